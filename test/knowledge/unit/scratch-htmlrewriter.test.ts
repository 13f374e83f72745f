import { it } from 'vitest';
it('explores', async () => {
  const html = '<html><body><ul><li>one<li>two</ul><p>para one<p>para &amp; two<div class=x>d</div><br/><img src=a><nav>n<a href="/x">x</a></nav><p>after</body></html>';
  const log: string[] = [];
  const rw = new HTMLRewriter()
    .on('*', {
      element(el) {
        log.push('<' + el.tagName);
        try { el.onEndTag((end) => { log.push('</' + end.name); }); } catch (e) { log.push('!onEndTag throws for ' + el.tagName + ': ' + (e as Error).message); }
      },
    })
    .onDocument({ text(t) { log.push(JSON.stringify(t.text) + (t.lastInTextNode ? '$' : '')); } });
  await rw.transform(new Response(html, { headers: { 'content-type': 'text/html' } })).arrayBuffer();
  console.log(log.join(' '));
  const el: string[] = [];
  await new HTMLRewriter().on('*', { element(e) { el.push(e.tagName + ':' + Object.keys(Object.getPrototypeOf(e)).join(',') + ':' + String((e as any).canHaveContent) + String((e as any).selfClosing)); } }).transform(new Response('<p>a<br>b</p>')).arrayBuffer();
  console.log(el.join(' | '));
  throw new Error('show');
});
