// Hearth page: answer buttons under Hearth's questions (Yes/No, or one button per option). A button answers only
// its own question: it sends the question's id as `reply_to`, and once that question is answered, replaced or
// expired its buttons are disabled.
'use strict';

(() => {
  const H = window.Hearth;
  const { el, sentence, titleCase } = H.util;
  const QUESTION_TTL_MS = 5 * 60 * 1000; // the server drops a pending question after 5 minutes
  const MAX_OPTIONS = 6;
  const groups = []; // {questionId, box, timer}

  function close(group, why) {
    clearTimeout(group.timer);
    group.box.dataset.state = why;
    for (const b of group.box.querySelectorAll('button')) {
      b.disabled = true;
      b.title = why === 'expired' ? 'This question has expired.' : 'This question is no longer open.';
    }
    const i = groups.indexOf(group);
    if (i >= 0) groups.splice(i, 1);
  }

  function optionLabel(option) {
    const app = H.app;
    const device = app.devices().get(option);
    if (device) return device.name;
    const area = app.areas().find((a) => a.id === option);
    if (area) return area.name || titleCase(area.id);
    return String(option).replace(/[_-]+/g, ' ');
  }

  H.questions = {
    // A reply arrived in this page's conversation: every question but the one it asks (if any) is closed.
    settle(reply) {
      const open = reply && reply.expects_answer ? reply.question_id || null : null;
      for (const group of [...groups]) {
        if (!open || group.questionId !== open) close(group, 'closed');
      }
    },

    // The buttons for a reply that asks something, or null. `answer(text, questionId)` sends the turn.
    buttons(reply, answer) {
      const kind = reply.kind;
      let choices = [];
      if (kind === 'confirm') choices = [['Yes', 'yes'], ['No', 'no']];
      else if (kind === 'ask' && reply.card && Array.isArray(reply.card.options)) {
        choices = reply.card.options.slice(0, MAX_OPTIONS).map((o) => {
          const label = optionLabel(o);
          return [sentence(label), label];
        });
      }
      if (!choices.length) return null;
      const box = el('span', { className: 'choices' });
      box.setAttribute('role', 'group');
      box.setAttribute('aria-label', 'Answers');
      box.dataset.state = 'open';
      const questionId = reply.question_id || null;
      if (questionId) box.dataset.questionId = questionId;
      const group = { questionId, box, timer: 0 };
      for (const [label, text] of choices) {
        const button = el('button', { type: 'button', textContent: label });
        button.addEventListener('click', () => {
          close(group, 'answered');
          button.setAttribute('aria-pressed', 'true');
          answer(text, questionId);
        });
        box.append(button);
      }
      group.timer = setTimeout(() => close(group, 'expired'), QUESTION_TTL_MS);
      groups.push(group);
      return box;
    },
  };

  H.on('signed-out', () => { for (const group of [...groups]) close(group, 'closed'); });
})();
