/**
 * Function words of the languages the eval covers (English, German, Spanish, French), folded:
 * articles, pronouns, prepositions, conjunctions, auxiliary and modal verbs, question words
 * and quantifiers ("how much", "wie viele", "cuánto"). They say how a question is asked, not
 * what it is about. Left in, they make every chunk look a bit relevant, and, worse, a common
 * one the bot's text happens not to use ("much", "welche") would weigh as a rare, unanswered
 * term in relevance (relevance.ts).
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  [
    // English
    'a about above after again against all also am an and any anything are as at be because been before being below between both but by can could did do does doing done down during each either else even ever every few for from further get gets getting got had has have having he her here hers him his how however i if in into is it its itself just let like may me might more most much must my neither no nor not now of off on once only or other our ours out over own per please same shall she should so some something such than that the their theirs them then there these they this those though through to too under until up upon us very was way we were what whatever when where whether which while who whom whose why will with within without would yet you your yours ' +
      'many lot lots thing things someone somebody anyone anybody everyone everybody isn aren wasn weren don doesn didn can cannot couldn won wouldn shouldn ll ve re',
    // German
    'aber alle allem allen aller alles als also am an ander andere anderen auch auf aus bei beim bin bis bist da damit dann das dass dein deine dem den denn der des dessen die dies diese diesem diesen dieser dieses doch dort du durch ein eine einem einen einer eines er es etwas euch euer fur gegen gibt gab hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre im in ins ist ja jede jedem jeden jeder jedes jetzt kann kannst konnen konnte kein keine keinem keinen keiner man manche mein meine meinem meinen meiner mich mir mit muss musst mussen nach nicht nichts noch nun nur ob oder ohne sehr sein seine sich sie sind so solche soll sollen sollte uber um und uns unser unsere unter viel viele vom von vor war waren warum wann was weil welche welchem welchen welcher welches wenn wer werde werden wie wieviel wieso wir wird wo woher wohin zu zum zur zwischen darf durfen mochte mochten will wollen',
    // Spanish
    'a al algo alguien algun alguna alguno algunos ante como con contra cual cuales cualquier cuando cuanta cuantas cuanto cuantos de del desde donde durante e el ella ellas ellos en entre era eran es esa esas ese eso esos esta estan estas este esto estos fue fueron ha han hasta hay la las le les lo los me mas mi mis muy nada ni no nos nosotros nuestra nuestras nuestro nuestros o os para pero poco por porque puede pueden puedo que quien quienes se sea ser si sin sobre son su sus tambien tan te tengo tiene tienen todo todos tu tus un una unas uno unos usted ustedes y ya yo',
    // French
    'a au aux avec ce ces cette combien comment dans de des du elle elles en est et eux il ils je la le les leur leurs lui ma mais me mes moi mon ne nos notre nous on ou par pas peut pour pourquoi qu quand que quel quelle quelles quels qui quoi sa sans se ses son sont sur ta te tes toi ton tu un une vos votre vous',
  ]
    .join(' ')
    .split(' '),
);
