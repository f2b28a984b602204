// Hearth page: the activity list. Recent events from the event log (GET /api/v1/events), then live ones from the
// socket, each with who or what caused it: a user and the channel they used, an automation, or the device itself.
'use strict';

(() => {
  const H = window.Hearth;
  const { el, sentence, fmtNum, fmtTemp } = H.util;
  const SHOW = 40;
  const list = document.getElementById('activity-list');
  const status = document.getElementById('activity-note');
  const rows = new Map(); // event id -> event
  let loading = null;
  let again = false; // a load was asked for while one ran: it may predate the socket's subscription

  const CHANNELS = {
    api: 'the app or API', websocket: 'chat', webchat: 'chat', cli: 'the command line', voice: 'voice',
    satellite: 'a voice satellite', automation: 'an automation', scheduler: 'a schedule',
  };

  function deviceName(id) {
    const d = id ? H.app.devices().get(id) : null;
    return d ? d.name : String(id || 'a device').replace(/[_-]+/g, ' ');
  }

  function stateWords(s) {
    const out = [];
    if (typeof s.on === 'boolean') out.push(s.on ? 'on' : 'off');
    if (s.on !== false && typeof s.brightness === 'number' && s.on === true) out.push(s.brightness + ' %');
    if (typeof s.locked === 'boolean') out.push(s.locked ? 'locked' : 'unlocked');
    if (typeof s.position === 'number') out.push(s.position <= 0 ? 'closed' : s.position >= 100 ? 'open' : s.position + ' % open');
    if (typeof s.target_temperature === 'number') out.push('set to ' + fmtTemp(s.target_temperature));
    if (typeof s.current_temperature === 'number') out.push(fmtTemp(s.current_temperature) + ' now');
    if (typeof s.humidity === 'number') out.push(fmtNum(s.humidity) + ' % humidity');
    if (typeof s.motion === 'boolean') out.push(s.motion ? 'motion' : 'no motion');
    return out.join(', ');
  }

  function commandWords(command, after) {
    const p = (command && command.params) || {};
    switch (command && command.name) {
      case 'turn_on': return 'turned on';
      case 'turn_off': return 'turned off';
      case 'set_brightness': return p.brightness > 0 ? `dimmed to ${p.brightness} %` : 'turned off';
      case 'set_color': return `set to ${p.color}`;
      case 'set_color_temp': return `set to ${p.color_temp} K`;
      case 'set_temperature': return `set to ${fmtTemp(p.temperature)}`;
      case 'lock': return 'locked';
      case 'unlock': return 'unlocked';
      case 'open': return 'opened';
      case 'close': return 'closed';
      case 'set_position': return p.position <= 0 ? 'closed' : `opened to ${p.position} %`;
      case 'restore': return 'put back: ' + (stateWords(after || {}) || 'as before');
      default: return command && command.name ? String(command.name).replace(/_/g, ' ') : 'changed';
    }
  }

  // What happened, in plain words.
  function what(ev) {
    const d = ev.data || {};
    switch (ev.type) {
      case 'command': return `${sentence(deviceName(d.device_id))} ${commandWords(d.command, d.after)}`;
      case 'state_changed': return `${sentence(deviceName(d.device_id))}: ${stateWords(d.state || {}) || 'changed'}`;
      case 'availability': return `${sentence(deviceName(d.device_id))} ${d.available ? 'is back online' : 'stopped responding'}`;
      case 'device_added': return `${sentence(d.name || deviceName(d.id))} was added`;
      case 'device_updated': {
        const name = sentence(deviceName(d.device_id));
        if (d.name) return `${name} renamed to ${d.name}`;
        if ('area' in d) return `${name} moved to ${d.area ? String(d.area).replace(/_/g, ' ') : 'no room'}`;
        return `${name} updated`;
      }
      case 'undo': return 'Undid the last change' + ((d.devices || []).length ? ' to ' + d.devices.map(deviceName).join(', ') : '');
      case 'scene_activated': return `Scene ${String(d.scene || '').replace(/_/g, ' ')} started`;
      case 'area_updated': return edited('Room', d);
      case 'floor_updated': return edited('Floor', d);
      case 'scene_updated': return edited('Scene', d);
      default: return sentence(String(ev.type).replace(/_/g, ' '));
    }
  }

  function edited(what, d) {
    const name = d.name || String(d.id || d.area_id || '').replace(/_/g, ' ');
    if (d.created) return `${what} ${name} added`;
    if (d.deleted) return `${what} ${name} removed`;
    if (Array.isArray(d.aliases) && d.area_id) return `${what} ${name} is also called ${d.aliases.join(', ')}`;
    return `${what} ${name} changed`;
  }

  // Who or what caused it.
  function who(ev) {
    const d = ev.data || {};
    if (d.automation) return `by the automation ${d.automation}`;
    const parts = [];
    if (d.user_id) parts.push(d.user_id === H.app.userId() ? 'by you' : `by ${d.user || 'another user'}`);
    if (d.channel) parts.push('via ' + (CHANNELS[d.channel] || d.channel));
    if (parts.length) return parts.join(' ');
    if (ev.type === 'state_changed' || ev.type === 'availability') return 'by the device itself';
    return '';
  }

  function when(ts) {
    const date = new Date(ts * 1000);
    const today = new Date().toDateString() === date.toDateString();
    const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return today ? time : date.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + time;
  }

  function item(ev) {
    const d = ev.data || {};
    const li = el('li', { className: 'event' });
    li.dataset.eventId = String(ev.id);
    li.dataset.type = ev.type;
    if (d.channel) li.dataset.channel = d.channel;
    if (d.user_id) li.dataset.user = d.user_id;
    const time = el('time', { textContent: when(ev.ts) });
    time.dateTime = new Date(ev.ts * 1000).toISOString();
    const cause = who(ev);
    li.append(time, el('span', { className: 'what', textContent: what(ev) }));
    if (cause) li.append(el('span', { className: 'who', textContent: cause }));
    return li;
  }

  function render() {
    const newest = [...rows.values()].sort((a, b) => b.id - a.id).slice(0, SHOW);
    for (const id of [...rows.keys()]) if (!newest.some((e) => e.id === id)) rows.delete(id);
    list.replaceChildren(...newest.map(item));
    status.textContent = newest.length ? '' : 'Nothing has happened yet.';
  }

  function add(events) {
    for (const ev of events) if (ev && typeof ev.id === 'number') rows.set(ev.id, ev);
    render();
  }

  async function load() {
    if (loading) { again = true; return loading; }
    again = false;
    loading = (async () => {
      try {
        const newestId = Math.max(0, ...rows.keys());
        const query = newestId ? { after: newestId, limit: 200 } : { order: 'desc', limit: SHOW };
        const body = await H.app.api('GET', '/events', undefined, query);
        add(body.events || []);
      } catch (err) {
        if (err.status !== 401) status.textContent = 'Could not load the activity: ' + err.message;
      } finally {
        loading = null;
        if (again) load();
      }
    })();
    return loading;
  }

  H.on('signed-in', () => { rows.clear(); load(); });
  H.on('live', () => load()); // catch up on what happened while the socket was down
  H.on('socket-event', (msg) => { if (msg.event === 'activity' && msg.data) add([msg.data]); });
  H.on('devices', () => { if (rows.size) render(); }); // device names may have arrived after the events
  H.on('signed-out', () => { rows.clear(); list.replaceChildren(); });
})();
