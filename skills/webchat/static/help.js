// Hearth page: help. Things to say (made from this home's own devices and scenes) and, for every device, what it
// can do in plain words. A "Try" button puts the example into the message box.
'use strict';

(() => {
  const H = window.Hearth;
  const { el, sentence } = H.util;
  const examplesEl = document.getElementById('help-examples');
  const devicesEl = document.getElementById('help-devices');
  let scenes = [];

  const RISKY_WORDS = ['garage', 'gate', 'door'];
  const risky = (d) => d.kind === 'cover' && RISKY_WORDS.some((w) => `${d.id} ${d.name}`.toLowerCase().includes(w));

  // One plain phrase per capability; the order is the order they are listed in.
  const CAN = [
    ['on_off', () => 'turn on and off'],
    ['brightness', () => 'dim or brighten (1 to 100 %)'],
    ['color', () => 'change colour'],
    ['color_temp', () => 'change the white tone, warm to cool (1500 to 9000 K)'],
    ['setpoint', () => 'set the temperature (5 to 35 °C)'],
    ['lock', () => 'lock and unlock (unlocking asks you first)'],
    ['position', (d) => 'open, close or open part way' + (risky(d) ? ' (opening asks you first)' : '')],
    ['temperature', (d) => (d.kind === 'climate' ? 'tell you the room temperature' : 'measure the temperature')],
    ['humidity', () => 'measure the humidity'],
    ['motion', () => 'notice motion'],
  ];

  function abilities(d) {
    const caps = new Set(d.capabilities || []);
    const out = CAN.filter(([cap]) => caps.has(cap)).map(([, words]) => words(d));
    return out.length ? out : ['show its state'];
  }

  // Example sentences: the first device that can do each thing, so every example works in this home.
  function examples() {
    const devices = [...H.app.devices().values()].sort((a, b) => a.name.localeCompare(b.name));
    const first = (test) => devices.find(test);
    const has = (cap) => (d) => (d.capabilities || []).includes(cap);
    const out = [];
    const light = first((d) => d.kind === 'light' && has('on_off')(d));
    if (light) out.push(`turn on the ${light.name}`, 'turn it off');
    const dim = first(has('brightness'));
    if (dim) out.push(`dim the ${dim.name} to 30 percent`);
    const colour = first(has('color'));
    if (colour) out.push(`make the ${colour.name} blue`);
    const thermostat = first(has('setpoint'));
    if (thermostat) out.push(`set the ${thermostat.name} to 21 degrees`);
    const sensor = first((d) => d.kind === 'sensor' && has('temperature')(d));
    if (sensor) out.push(`what's the temperature in the ${String(sensor.area || '').replace(/_/g, ' ') || 'house'}?`);
    const lock = first(has('lock'));
    if (lock) out.push(`is the ${lock.name} locked?`, `unlock the ${lock.name}`);
    const cover = first((d) => has('position')(d) && !risky(d));
    if (cover) out.push(`open the ${cover.name}`);
    if (scenes.length) out.push(`activate ${scenes[0].name}`);
    out.push('undo', 'what can you do?');
    return out;
  }

  function render() {
    examplesEl.replaceChildren(...examples().map((text) => {
      const button = el('button', { type: 'button', className: 'chip example', textContent: `“${text}”` });
      button.setAttribute('aria-label', `Try: ${text}`);
      button.addEventListener('click', () => { H.emit('show-panel', 'chat'); H.app.compose(text); });
      return el('li', {}, [button]);
    }));
    const devices = [...H.app.devices().values()].sort((a, b) => a.name.localeCompare(b.name));
    const items = [];
    for (const d of devices) {
      const dt = el('dt', { textContent: sentence(d.name) });
      dt.dataset.helpDevice = d.id;
      const aliases = (d.aliases || []).length ? ` Also called ${d.aliases.join(', ')}.` : '';
      const dd = el('dd', { textContent: `Can ${abilities(d).join('; ')}.${aliases}` });
      dd.dataset.helpDevice = d.id;
      items.push(dt, dd);
    }
    devicesEl.replaceChildren(...items);
  }

  async function loadScenes() {
    try {
      scenes = (await H.app.api('GET', '/scenes')).scenes || [];
      render();
    } catch { /* examples without scenes */ }
  }

  H.on('signed-in', loadScenes);
  H.on('devices', render);
  H.on('device', (device, old) => { if (!old || old.name !== device.name || old.area !== device.area) render(); });
  H.on('signed-out', () => { scenes = []; examplesEl.replaceChildren(); devicesEl.replaceChildren(); });
})();
