/**
 * The widget's stylesheet, applied inside its shadow root only. Colours are custom properties
 * per theme; every text/background pair meets WCAG AA (4.5:1) in light and dark, and text on
 * the brand colour is white or near-black, whichever contrasts more (theme.ts).
 */
export const CSS = `
:host{all:initial}
.kc-root{--kc-bg:#ffffff;--kc-fg:#1f2937;--kc-muted:#4b5563;--kc-bubble:#f3f4f6;--kc-border:#d1d5db;--kc-ring:#1d4ed8;--kc-err-bg:#fef2f2;--kc-err:#991b1b;
font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--kc-fg);-webkit-font-smoothing:antialiased}
.kc-dark{--kc-bg:#111827;--kc-fg:#f3f4f6;--kc-muted:#d1d5db;--kc-bubble:#1f2937;--kc-border:#4b5563;--kc-ring:#93c5fd;--kc-err-bg:#450a0a;--kc-err:#fecaca}
@media (prefers-color-scheme:dark){.kc-auto{--kc-bg:#111827;--kc-fg:#f3f4f6;--kc-muted:#d1d5db;--kc-bubble:#1f2937;--kc-border:#4b5563;--kc-ring:#93c5fd;--kc-err-bg:#450a0a;--kc-err:#fecaca}}
.kc-root *{box-sizing:border-box}
.kc-root [hidden]{display:none!important}
.kc-root :focus-visible{outline:3px solid var(--kc-ring);outline-offset:2px}
.kc-root button{font:inherit;cursor:pointer}
.kc-launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;border:0;background:var(--kc-brand);color:var(--kc-on-brand);box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}
.kc-left .kc-launcher{right:auto;left:20px}
.kc-launcher svg{width:26px;height:26px;fill:currentColor}
.kc-icon{width:16px;height:16px;fill:none;stroke:currentColor;stroke-width:2;stroke-linejoin:round;stroke-linecap:round;vertical-align:middle}
.kc-panel{position:fixed;bottom:88px;right:20px;z-index:2147483001;width:380px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 110px);background:var(--kc-bg);color:var(--kc-fg);border:1px solid var(--kc-border);border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden}
.kc-left .kc-panel{right:auto;left:20px}
.kc-panel[hidden]{display:none}
@media (max-width:480px){.kc-panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0;border:0}}
.kc-header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--kc-brand);color:var(--kc-on-brand)}
.kc-avatar{width:32px;height:32px;border-radius:50%;object-fit:cover}
.kc-title{flex:1;margin:0;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.kc-close{border:0;background:transparent;color:inherit;font-size:22px;line-height:1;width:36px;height:36px;border-radius:8px}
.kc-messages{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px}
.kc-msg{max-width:88%;padding:9px 12px;border-radius:12px;background:var(--kc-bubble);overflow-wrap:anywhere}
.kc-msg--user{align-self:flex-end;background:var(--kc-brand);color:var(--kc-on-brand);white-space:pre-wrap}
.kc-msg--assistant,.kc-msg--agent,.kc-live-typing{align-self:flex-start}
.kc-msg--agent{border-left:3px solid var(--kc-brand)}
.kc-msg-label{font-size:12px;font-weight:600;color:var(--kc-muted)}
.kc-live-typing{padding:4px 12px}
.kc-handoff{align-self:center;margin:0 14px 8px;border:1px solid var(--kc-brand);background:var(--kc-bg);color:var(--kc-fg);border-radius:999px;padding:5px 12px;font-size:13px}
.kc-note{align-self:center;color:var(--kc-muted);font-size:13px}
.kc-msg-body p{margin:0 0 6px}.kc-msg-body p:last-child{margin:0}
.kc-msg-body .kc-h{font-weight:700}
.kc-msg-body ul,.kc-msg-body ol{margin:4px 0;padding-left:20px}
.kc-msg-body pre{margin:6px 0;padding:8px;background:var(--kc-bg);border:1px solid var(--kc-border);border-radius:6px;overflow-x:auto;white-space:pre}
.kc-msg-body code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace}
.kc-msg a{color:inherit;text-decoration:underline}
.kc-cite{font-size:11px;vertical-align:super;line-height:0;margin-left:1px}
.kc-citations{margin-top:6px;font-size:12.5px;color:var(--kc-muted);display:flex;flex-wrap:wrap;gap:4px 10px}
.kc-actions{display:flex;gap:4px;margin-top:6px}
.kc-actions button{border:1px solid var(--kc-border);background:var(--kc-bg);color:var(--kc-fg);border-radius:6px;padding:2px 8px;font-size:13px;min-width:32px;min-height:28px;display:inline-flex;align-items:center;justify-content:center}
.kc-actions button[aria-pressed=true]{background:var(--kc-brand);color:var(--kc-on-brand);border-color:var(--kc-brand)}
.kc-typing{display:inline-flex;gap:4px;padding:4px 0}
.kc-typing i{width:7px;height:7px;border-radius:50%;background:var(--kc-muted);animation:kc-blink 1.2s infinite}
.kc-typing i:nth-child(2){animation-delay:.2s}.kc-typing i:nth-child(3){animation-delay:.4s}
@keyframes kc-blink{0%,80%,100%{opacity:.3}40%{opacity:1}}
@media (prefers-reduced-motion:reduce){.kc-typing i{animation:none}}
.kc-suggestions{display:flex;flex-wrap:wrap;gap:6px;padding:0 14px 8px}
.kc-suggestions button{border:1px solid var(--kc-brand);background:var(--kc-bg);color:var(--kc-fg);border-radius:999px;padding:5px 12px;font-size:13px;text-align:left}
.kc-error{margin:0 14px 8px;padding:8px 10px;border-radius:8px;background:var(--kc-err-bg);color:var(--kc-err);font-size:13px}
.kc-error[hidden]{display:none}
.kc-composer{display:flex;gap:8px;padding:10px 14px;border-top:1px solid var(--kc-border)}
.kc-input{flex:1;resize:none;min-height:40px;max-height:120px;padding:9px 10px;border:1px solid var(--kc-border);border-radius:8px;background:var(--kc-bg);color:var(--kc-fg);font:inherit}
.kc-input::placeholder{color:var(--kc-muted);opacity:1}
.kc-send{border:0;border-radius:8px;padding:0 14px;background:var(--kc-brand);color:var(--kc-on-brand);font-weight:600}
.kc-send:disabled,.kc-input:disabled{opacity:.6;cursor:not-allowed}
.kc-lead{display:flex;flex-direction:column;gap:8px;padding:12px;border:1px solid var(--kc-border);border-radius:10px;align-self:stretch}
.kc-lead p{margin:0}
.kc-lead label{display:flex;flex-direction:column;gap:3px;font-size:13px}
.kc-lead input{padding:7px 9px;border:1px solid var(--kc-border);border-radius:6px;background:var(--kc-bg);color:var(--kc-fg);font:inherit}
.kc-lead input[aria-invalid=true]{border-color:var(--kc-err)}
.kc-field-error{color:var(--kc-err);font-size:12px}
.kc-lead button{align-self:flex-start;border:0;border-radius:8px;padding:7px 14px;background:var(--kc-brand);color:var(--kc-on-brand);font-weight:600}
.kc-confirm{display:flex;flex-direction:column;gap:6px;padding:10px 12px;border:1px solid var(--kc-brand);border-radius:10px;align-self:stretch;overflow-wrap:anywhere}
.kc-confirm p{margin:0}
.kc-confirm-args{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--kc-muted)}
.kc-confirm-buttons{display:flex;gap:8px}
.kc-confirm-buttons button{border:1px solid var(--kc-brand);border-radius:8px;padding:5px 12px;background:var(--kc-bg);color:var(--kc-fg)}
.kc-confirm-buttons .kc-confirm-approve{border-color:var(--kc-brand);background:var(--kc-brand);color:var(--kc-on-brand);font-weight:600}
.kc-confirm-buttons button:disabled{opacity:.6;cursor:not-allowed}
.kc-confirm-outcome{font-size:13px;color:var(--kc-muted)}
.kc-powered{padding:0 14px 8px;text-align:center;font-size:11.5px;color:var(--kc-muted)}
.kc-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;
