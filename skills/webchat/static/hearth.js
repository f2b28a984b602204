// Hearth page: the shared namespace that the page's parts (dashboard, activity, help, layout) plug into.
// Loaded first; app.js owns the connection and the data and tells the parts what happened through `emit`.
'use strict';

(() => {
  const listeners = new Map();
  const svg = (path) => `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${path}</svg>`;
  const sentence = (text) => String(text).replace(/^./, (c) => c.toUpperCase());
  const fmtNum = (n) => (Math.round(n * 10) / 10).toString();

  window.Hearth = {
    // app.js fills `app` with {api, devices, areas, putDevice, isLive, userId, say, note} before any event.
    app: null,
    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(fn);
    },
    emit(name, ...args) {
      for (const fn of listeners.get(name) || []) {
        try { fn(...args); } catch (err) { console.error(`Hearth: ${name} handler failed`, err); }
      }
    },
    util: {
      el(tag, props = {}, children = []) {
        const node = document.createElement(tag);
        Object.assign(node, props);
        for (const child of children) node.append(child);
        return node;
      },
      sentence,
      titleCase: (id) => sentence(String(id).replace(/[_-]+/g, ' ')),
      clamp: (n) => Math.max(0, Math.min(100, Math.round(n))),
      fmtNum,
      fmtTemp: (n) => fmtNum(n) + '°',
      domId: (text) => String(text).replace(/[^\w-]/g, '_'),
      svg,
      KIND_LABEL: { light: 'Light', switch: 'Switch', fan: 'Fan', climate: 'Thermostat', lock: 'Lock', cover: 'Cover', sensor: 'Sensor' },
      ICONS: {
        light: svg('<path d="M12 2a7 7 0 0 0-4 12.7V17h8v-2.3A7 7 0 0 0 12 2Zm-3 17h6v2H9z"/>'),
        switch: svg('<path d="M8 2h2v5h4V2h2v5h2v5a6 6 0 0 1-5 5.9V22h-2v-4.1A6 6 0 0 1 6 12V7h2z"/>'),
        fan: svg([0, 120, 240].map((r) => `<path transform="rotate(${r} 12 12)" d="M12 10.5c-1-3-3.8-4.4-2.6-7.2 1.6-1.6 5-.4 4.5 2.6-.3 2-1 3-1.9 4.6z"/>`).join('')
          + '<circle cx="12" cy="12" r="1.8"/>'),
        climate: svg('<path d="M10 4a2 2 0 0 1 4 0v9.3a4.5 4.5 0 1 1-4 0zm2-1a1 1 0 0 0-1 1v10l-.5.3a3 3 0 1 0 3 0L13 14V4a1 1 0 0 0-1-1Z"/>'),
        lock: svg('<path d="M7 10V7a5 5 0 0 1 10 0v3h1.5v11h-13V10zm2 0h6V7a3 3 0 0 0-6 0z"/>'),
        cover: svg('<path d="M4 3h16v2H4zm1 4h14v2H5zm0 4h14v2H5zm0 4h14v2H5zm6 4h2v2h-2z"/>'),
        sensor: svg('<path d="M12 10a2 2 0 1 1 0 4 2 2 0 0 1 0-4ZM6.3 6.3l1.4 1.4a6 6 0 0 0 0 8.6l-1.4 1.4a8 8 0 0 1 0-11.4Zm11.4 0a8 8 0 0 1 0 11.4l-1.4-1.4a6 6 0 0 0 0-8.6z"/>'),
      },
    },
  };
})();
