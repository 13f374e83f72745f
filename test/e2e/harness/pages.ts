/**
 * Host-page CSS that tries everything a careless (or hostile) site does to third-party widgets:
 * universal selectors with !important on colour, size, font, layout and visibility of every
 * element, including custom elements and the ones a widget would use (button, textarea, div).
 * A Shadow DOM keeps all of it out; the tests compare the widget's computed styles with it.
 */
export const HOSTILE_CSS = `
* { color: rgb(255, 0, 0) !important; font-size: 40px !important; font-family: "Comic Sans MS", fantasy !important;
    line-height: 3 !important; letter-spacing: 5px !important; text-transform: uppercase !important;
    background: rgb(0, 255, 0) !important; border: 7px dashed rgb(0, 0, 255) !important; padding: 30px !important; margin: 20px !important;
    box-sizing: content-box !important; }
div, button, textarea, form, input, a, p, span, ul, li, section, header, footer { display: inline !important; width: 13px !important; }
button { visibility: visible !important; transform: rotate(3deg) !important; }
[role=dialog], [role=log] { display: none !important; }
.kc-launcher, .kc-panel, .kc-messages, .kc-msg, .kc-input, .kc-send { display: none !important; color: rgb(255, 0, 0) !important; }
`;
