// Hearth page: the device dashboard. Tiles by area, a tap toggles lights and switches, and each device gets the
// controls it supports: brightness, cover position, setpoint, lock and unlock. Risky commands ask first.
'use strict';

(() => {
  const H = window.Hearth;
  const { el, sentence, titleCase, fmtNum, fmtTemp, domId, ICONS, KIND_LABEL } = H.util;
  const TOGGLE_KINDS = new Set(['light', 'switch', 'fan']);
  const RISKY_WORDS = ['garage', 'gate', 'door'];
  const SETPOINT = { min: 5, max: 35, step: 0.5 };
  const SLIDER_SETTLE_MS = 350; // keyboard steps on a slider are sent once the keys pause

  const areasEl = document.getElementById('areas');
  const tiles = new Map(); // device id -> {card, tile, controls}

  const caps = (d) => new Set(d.capabilities || []);
  const isToggle = (d) => TOGGLE_KINDS.has(d.kind) && caps(d).has('on_off');
  const the = (d) => 'the ' + d.name;

  // The page's own copy of the conversation's policy, so it can ask before sending. The server has the last word:
  // a 409 confirmation_required for anything else also leads to the same question.
  function riskyQuestion(d, name, params) {
    if (name === 'unlock') return { heading: 'Unlock?', message: `Unlock ${the(d)}?`, confirmLabel: 'Unlock' };
    const opens = name === 'open' || (name === 'set_position' && params.position > ((d.state || {}).position || 0));
    const text = `${d.id} ${d.name}`.toLowerCase();
    if (d.kind === 'cover' && opens && RISKY_WORDS.some((w) => text.includes(w))) {
      return { heading: 'Open?', message: `Open ${the(d)}? Anyone outside can then come in.`, confirmLabel: 'Open' };
    }
    return null;
  }

  // ------------------------------------------------------------------------------------------------ commands
  async function send(id, name, params = {}) {
    const app = H.app;
    const device = app.devices().get(id);
    const entry = tiles.get(id);
    if (!device || !entry) return;
    if (device.available === false) {
      app.note(`${sentence(device.name)} is not responding right now.`, true);
      return;
    }
    const body = { name, params };
    const question = riskyQuestion(device, name, params);
    if (question) {
      if (!(await H.confirm(question))) { fill(id); return; } // put the sliders back where they were
      body.confirm = true;
    }
    entry.card.setAttribute('aria-busy', 'true');
    entry.tile.setAttribute('aria-busy', 'true');
    const path = `/devices/${encodeURIComponent(id)}/command`;
    try {
      let result;
      try {
        result = await app.api('POST', path, body);
      } catch (err) {
        if (err.status !== 409 || err.code !== 'confirmation_required' || body.confirm) throw err;
        const asked = await H.confirm({
          heading: 'Are you sure?', message: err.message || `Really do that to ${the(device)}?`, confirmLabel: 'Yes, do it',
        });
        if (!asked) { fill(id); return; }
        result = await app.api('POST', path, { ...body, confirm: true });
      }
      app.note('');
      // With a live socket the new state arrives as a device.status event; otherwise use the answer.
      if (!app.isLive() && result && result.device) app.putDevice(result.device);
    } catch (err) {
      if (err.status !== 401) app.note(`Could not change ${device.name}: ${err.message}`, true);
      fill(id);
    } finally {
      const current = tiles.get(id);
      if (current) { current.card.removeAttribute('aria-busy'); current.tile.removeAttribute('aria-busy'); }
    }
  }

  function toggle(id) {
    const d = H.app.devices().get(id);
    const entry = tiles.get(id);
    if (!d || !entry || entry.tile.getAttribute('aria-busy') === 'true') return;
    send(id, d.state && d.state.on ? 'turn_off' : 'turn_on');
  }

  // ------------------------------------------------------------------------------------------------ rendering
  function render() {
    const app = H.app;
    const groups = new Map(app.areas().map((a) => [a.id, { name: sentence(a.name || a.id), devices: [] }]));
    const other = { name: 'Other', devices: [] };
    for (const d of app.devices().values()) {
      if (d.area && !groups.has(d.area)) groups.set(d.area, { name: titleCase(d.area), devices: [] });
      (d.area ? groups.get(d.area) : other).devices.push(d);
    }
    if (other.devices.length) groups.set('', other);
    const focused = document.activeElement;
    const focusKey = focused && focused.dataset ? focused.dataset.focusKey : undefined;
    tiles.clear();
    const sections = [];
    for (const [id, group] of groups) {
      if (!group.devices.length) continue;
      group.devices.sort((a, b) => a.name.localeCompare(b.name));
      const headingId = 'area-' + domId(id || 'other');
      const section = el('section', { className: 'area' });
      section.setAttribute('aria-labelledby', headingId);
      section.append(el('h3', { id: headingId, textContent: group.name }));
      const list = el('ul', { className: 'tiles' });
      for (const device of group.devices) list.append(makeCard(device));
      section.append(list);
      sections.push(section);
    }
    if (!sections.length) sections.push(el('p', { className: 'empty', textContent: 'No devices yet.' }));
    areasEl.replaceChildren(...sections);
    if (focusKey) {
      const again = areasEl.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  function makeCard(device) {
    const toggleable = isToggle(device);
    const tile = el(toggleable ? 'button' : 'div', { className: 'tile' });
    tile.dataset.deviceId = device.id;
    tile.dataset.kind = device.kind;
    tile.dataset.focusKey = device.id + ':tile';
    if (toggleable) {
      tile.type = 'button';
      tile.addEventListener('click', () => toggle(device.id));
    } else {
      tile.setAttribute('role', 'group');
    }
    const controls = el('div', { className: 'controls' });
    const card = el('li', { className: 'tile-card' }, [tile, controls]);
    card.dataset.card = device.id;
    tiles.set(device.id, { card, tile, controls, kind: device.kind, name: device.name, area: device.area });
    fill(device.id);
    return card;
  }

  // Fill a card from the device's current state (the controls are rebuilt unless the user is using one).
  function fill(id) {
    const d = H.app.devices().get(id);
    const entry = tiles.get(id);
    if (!d || !entry) return;
    const { card, tile, controls } = entry;
    const s = d.state || {};
    const available = d.available !== false;
    const on = s.on === true;
    for (const node of [tile, card]) {
      node.dataset.on = String(on);
      node.dataset.available = String(available);
    }
    tile.setAttribute('aria-label', sentence(d.name));
    if (tile.tagName === 'BUTTON') {
      tile.setAttribute('aria-pressed', String(on));
      if (available) tile.removeAttribute('aria-disabled');
      else tile.setAttribute('aria-disabled', 'true');
    }
    const detailId = 'dev-' + domId(d.id) + '-detail';
    const icon = el('span', { className: 'tile-icon' });
    icon.innerHTML = ICONS[d.kind] || ICONS.sensor; // constant markup, never device data
    const parts = [el('span', { className: 'tile-top' }, [icon, el('span', { className: 'badge', textContent: badgeText(d, available) })]),
      el('span', { className: 'tile-name', textContent: sentence(d.name) })];
    const value = bigValue(d);
    if (value) parts.push(el('span', { className: 'tile-value', textContent: value }));
    parts.push(el('span', { className: 'tile-detail', id: detailId }, detailParts(d, available)));
    tile.replaceChildren(...parts);
    tile.setAttribute('aria-describedby', detailId);

    if (controls.contains(document.activeElement) && controls.dataset.editing === 'true') return; // mid-drag or mid-typing
    const hadFocus = controls.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    controls.replaceChildren(...makeControls(d, available));
    controls.hidden = !controls.childElementCount;
    if (hadFocus) {
      // Keep the keyboard where it was; a button that is now disabled (Unlock once unlocked) hands over to its
      // neighbour (Lock), so the focus never falls back to the top of the page.
      const again = controls.querySelector(`[data-focus-key="${CSS.escape(hadFocus)}"]`);
      const usable = again && !again.disabled ? again
        : again && again.parentElement.querySelector('button:not(:disabled), input:not(:disabled)');
      if (usable) usable.focus();
    }
  }

  function badgeText(d, available) {
    const s = d.state || {};
    if (!available) return 'Unavailable';
    if (d.kind === 'lock' && typeof s.locked === 'boolean') return s.locked ? 'Locked' : 'Unlocked';
    if (d.kind === 'cover' && typeof s.position === 'number') return s.position <= 0 ? 'Closed' : 'Open';
    if (d.kind === 'sensor' && typeof s.motion === 'boolean') return s.motion ? 'Motion' : 'Clear';
    if (typeof s.on === 'boolean') return s.on ? 'On' : 'Off';
    return '';
  }

  function bigValue(d) {
    const s = d.state || {};
    if (d.kind === 'climate' || d.kind === 'sensor') {
      if (typeof s.current_temperature === 'number') return fmtTemp(s.current_temperature);
      if (typeof s.humidity === 'number') return fmtNum(s.humidity) + ' %';
    }
    if (d.kind === 'cover' && typeof s.position === 'number') return s.position + ' %';
    return '';
  }

  function detailParts(d, available) {
    const s = d.state || {};
    const out = [];
    const add = (text) => out.push(el('span', { textContent: text }));
    if (!available) add('Not responding');
    // Brightness, colour and white tone describe a light that is on; an off light shows none of them.
    const lit = s.on !== false;
    if (lit && typeof s.brightness === 'number') add(s.brightness + ' % brightness');
    if (lit && s.color) {
      const span = el('span');
      const colour = cssColour(s.color);
      if (colour) {
        const swatch = el('span', { className: 'swatch' });
        swatch.style.setProperty('--swatch', colour);
        swatch.setAttribute('aria-hidden', 'true');
        span.append(swatch);
      }
      span.append(s.color);
      out.push(span);
    }
    if (lit && typeof s.color_temp === 'number') add(s.color_temp + ' K');
    if (typeof s.target_temperature === 'number') add('Set to ' + fmtTemp(s.target_temperature));
    if (typeof s.current_temperature === 'number' && !['climate', 'sensor'].includes(d.kind)) add(fmtTemp(s.current_temperature) + ' now');
    if (typeof s.humidity === 'number' && (bigValue(d) || '').indexOf('%') === -1) add(fmtNum(s.humidity) + ' % humidity');
    if (typeof s.locked === 'boolean' && d.kind !== 'lock') add(s.locked ? 'Locked' : 'Unlocked');
    if (typeof s.position === 'number' && d.kind !== 'cover') add(s.position + ' % open');
    if (typeof s.motion === 'boolean' && d.kind !== 'sensor') add(s.motion ? 'Motion' : 'No motion');
    if (d.kind === 'sensor' && typeof s.motion === 'boolean') add(s.motion ? 'Motion detected' : 'No motion');
    if (!out.length) add(typeof s.on === 'boolean' ? (s.on ? 'On' : 'Off') : (KIND_LABEL[d.kind] || d.kind));
    return out;
  }

  // ------------------------------------------------------------------------------------------------ controls
  function makeControls(d, available) {
    const c = caps(d);
    const s = d.state || {};
    const out = [];
    if (c.has('brightness') && typeof s.brightness === 'number') {
      const on = s.on === true;
      out.push(slider(d, {
        key: 'brightness', label: 'Brightness', min: 0, max: 100, step: 1,
        value: on ? s.brightness : 0,
        text: (v) => (v <= 0 ? 'Off' : v + ' %'),
        commit: (v) => send(d.id, 'set_brightness', { brightness: v }),
        available,
      }));
    }
    if (c.has('position') && typeof s.position === 'number') {
      out.push(slider(d, {
        key: 'position', label: 'Position', min: 0, max: 100, step: 5, value: s.position,
        text: (v) => (v <= 0 ? 'Closed' : v >= 100 ? 'Open' : v + ' % open'),
        commit: (v) => send(d.id, 'set_position', { position: v }),
        available,
      }));
      out.push(buttons(d, available, [
        ['open', 'Open', s.position >= 100],
        ['close', 'Close', s.position <= 0],
      ]));
    }
    if (c.has('lock') && typeof s.locked === 'boolean') {
      out.push(buttons(d, available, [
        ['lock', 'Lock', s.locked === true],
        ['unlock', 'Unlock', s.locked === false],
      ]));
    }
    if (c.has('setpoint')) out.push(setpoint(d, typeof s.target_temperature === 'number' ? s.target_temperature : 20, available));
    return out;
  }

  function slider(d, o) {
    const id = `ctl-${domId(d.id)}-${o.key}`;
    const input = el('input', { type: 'range', id, min: o.min, max: o.max, step: o.step, value: o.value, disabled: !o.available });
    input.dataset.focusKey = `${d.id}:${o.key}`;
    input.dataset.control = o.key;
    const out = el('output', { htmlFor: id, textContent: o.text(o.value) });
    const label = el('label', { htmlFor: id, textContent: o.label });
    label.append(el('span', { className: 'visually-hidden', textContent: ' of ' + d.name }));
    const show = () => {
      const v = Number(input.value);
      out.textContent = o.text(v);
      input.setAttribute('aria-valuetext', o.text(v));
    };
    show();
    let timer = 0;
    const controls = () => tiles.get(d.id) && tiles.get(d.id).controls;
    const commit = () => {
      clearTimeout(timer);
      const box = controls();
      if (box) box.dataset.editing = 'false';
      const v = Number(input.value);
      if (v !== Number(o.value)) o.commit(v);
    };
    input.addEventListener('input', () => {
      const box = controls();
      if (box) box.dataset.editing = 'true';
      show();
    });
    // Pointer: send on release. Keyboard: each arrow press fires 'change'; send once the keys pause.
    input.addEventListener('change', () => { clearTimeout(timer); timer = setTimeout(commit, SLIDER_SETTLE_MS); });
    input.addEventListener('pointerup', () => { clearTimeout(timer); timer = setTimeout(commit, 0); });
    input.addEventListener('blur', () => { if (controls() && controls().dataset.editing === 'true') commit(); });
    return el('div', { className: 'control control-range' }, [label, out, input]);
  }

  function buttons(d, available, specs) {
    const row = el('div', { className: 'control control-buttons' });
    row.setAttribute('role', 'group');
    row.setAttribute('aria-label', sentence(d.name));
    for (const [name, text, current] of specs) {
      const b = el('button', { type: 'button', className: 'chip', textContent: text, disabled: !available || current });
      b.dataset.command = name;
      b.dataset.focusKey = `${d.id}:${name}`;
      b.setAttribute('aria-label', `${text} ${d.name}`);
      b.addEventListener('click', () => send(d.id, name));
      row.append(b);
    }
    return row;
  }

  function setpoint(d, target, available) {
    const id = `ctl-${domId(d.id)}-setpoint`;
    const input = el('input', { type: 'number', id, min: SETPOINT.min, max: SETPOINT.max, step: SETPOINT.step, value: fmtNum(target), disabled: !available });
    input.dataset.focusKey = `${d.id}:setpoint`;
    input.dataset.control = 'setpoint';
    input.setAttribute('inputmode', 'decimal');
    const apply = (value) => {
      const v = Math.round(Math.max(SETPOINT.min, Math.min(SETPOINT.max, value)) * 2) / 2;
      input.value = fmtNum(v);
      const box = tiles.get(d.id) && tiles.get(d.id).controls;
      if (box) box.dataset.editing = 'false';
      if (Number.isFinite(v) && v !== target) send(d.id, 'set_temperature', { temperature: v });
    };
    input.addEventListener('input', () => {
      const box = tiles.get(d.id) && tiles.get(d.id).controls;
      if (box) box.dataset.editing = 'true';
    });
    input.addEventListener('change', () => { if (input.value !== '') apply(Number(input.value)); });
    input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') input.blur(); });
    const step = (delta, text) => {
      const b = el('button', { type: 'button', className: 'chip step', textContent: text, disabled: !available });
      b.dataset.focusKey = `${d.id}:setpoint${delta > 0 ? '+' : '-'}`;
      b.setAttribute('aria-label', `${delta > 0 ? 'Warmer' : 'Cooler'} by ${SETPOINT.step} degrees`);
      b.addEventListener('click', () => apply(target + delta));
      return b;
    };
    const label = el('label', { htmlFor: id, textContent: 'Set to (°C)' });
    label.append(el('span', { className: 'visually-hidden', textContent: ` ${SETPOINT.min} to ${SETPOINT.max} for ${d.name}` }));
    return el('div', { className: 'control control-setpoint' }, [label, step(-SETPOINT.step, '−'), input, step(SETPOINT.step, '+')]);
  }

  const NAMED_COLOURS = { 'warm white': '#ffd59e', 'soft white': '#ffe3b8', 'cool white': '#e4eeff', daylight: '#f2f6ff', white: '#ffffff' };
  function cssColour(name) {
    const key = String(name).toLowerCase().trim();
    if (NAMED_COLOURS[key]) return NAMED_COLOURS[key];
    const compact = key.replace(/\s+/g, '');
    return window.CSS && CSS.supports('color', compact) ? compact : null;
  }

  // ------------------------------------------------------------------------------------------------ wiring
  H.on('devices', render);
  H.on('device', (device) => {
    const entry = tiles.get(device.id);
    if (entry && entry.area === device.area && entry.name === device.name && entry.kind === device.kind) fill(device.id);
    else render();
  });
  H.on('signed-out', () => { tiles.clear(); areasEl.replaceChildren(); });
})();
