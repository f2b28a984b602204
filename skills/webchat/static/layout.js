// Hearth page: the layout. On a wide screen every section is shown side by side; on a phone the header stays at
// the top with tabs (Chat, Devices, Activity, Help) and one section at a time, so nothing needs long scrolling.
'use strict';

(() => {
  const H = window.Hearth;
  const PHONE = window.matchMedia('(max-width: 820px)');
  const home = document.getElementById('home');
  const header = document.querySelector('.top');
  const nav = document.getElementById('tabs');
  const tabs = [...nav.querySelectorAll('[role="tab"]')];
  const panels = [...document.querySelectorAll('.panel[data-panel]')];
  const KEY = 'hearth.tab';
  let current = (() => { try { return sessionStorage.getItem(KEY) || 'chat'; } catch { return 'chat'; } })();

  function show(name, focusTab) {
    if (!tabs.some((t) => t.dataset.panel === name)) name = 'chat';
    current = name;
    try { sessionStorage.setItem(KEY, name); } catch { /* private mode */ }
    home.dataset.tab = name;
    for (const tab of tabs) {
      const selected = tab.dataset.panel === name;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected && focusTab) tab.focus();
    }
  }

  // Tabs are tabs only on a phone; on a wide screen the sections are plain regions, all visible.
  function apply() {
    const phone = PHONE.matches;
    nav.hidden = !phone || home.hidden;
    for (const panel of panels) {
      if (phone) {
        panel.setAttribute('role', 'tabpanel');
        panel.setAttribute('aria-labelledby', 'tab-' + panel.dataset.panel);
      } else {
        panel.removeAttribute('role');
        panel.setAttribute('aria-labelledby', panel.querySelector('h2').id);
      }
    }
    document.documentElement.style.setProperty('--header-h', header.offsetHeight + 'px');
  }

  nav.addEventListener('click', (ev) => {
    const tab = ev.target.closest('[role="tab"]');
    if (tab) show(tab.dataset.panel, false);
  });
  nav.addEventListener('keydown', (ev) => {
    const i = tabs.findIndex((t) => t.dataset.panel === current);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    show(tabs[(to + tabs.length) % tabs.length].dataset.panel, true);
  });
  PHONE.addEventListener('change', apply);
  window.addEventListener('resize', () => document.documentElement.style.setProperty('--header-h', header.offsetHeight + 'px'));
  // #home is shown and hidden on sign in and out; the tabs follow it.
  new MutationObserver(apply).observe(home, { attributes: true, attributeFilter: ['hidden'] });

  H.on('show-panel', (name) => show(name, false));
  show(current, false);
  apply();
})();
