// Hearth page: the accessible yes/no dialog for risky device commands (unlock, opening the garage door or a gate).
'use strict';

(() => {
  const dialog = document.getElementById('confirm-dialog');
  const title = document.getElementById('confirm-title');
  const text = document.getElementById('confirm-text');
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  let settle = null;

  function finish(answer) {
    const done = settle;
    settle = null;
    if (dialog.open) dialog.close();
    if (done) done(answer);
  }

  ok.addEventListener('click', () => finish(true));
  cancel.addEventListener('click', () => finish(false));
  dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); finish(false); }); // Escape
  dialog.addEventListener('close', () => finish(false));

  // Ask; resolves true only when the user chose the confirming button. Focus starts on the safe choice.
  window.Hearth.confirm = ({ heading, message, confirmLabel }) => {
    if (settle) finish(false);
    const opener = document.activeElement;
    title.textContent = heading;
    text.textContent = message;
    ok.textContent = confirmLabel;
    return new Promise((resolve) => {
      settle = (answer) => {
        // The dashboard may have redrawn meanwhile: find the same control again by its focus key.
        const key = opener && opener.dataset ? opener.dataset.focusKey : undefined;
        const target = opener && opener.isConnected ? opener
          : key ? document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`) : null;
        if (target && typeof target.focus === 'function') target.focus();
        resolve(answer);
      };
      dialog.showModal();
      cancel.focus();
    });
  };
})();
