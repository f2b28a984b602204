// Hearth web chat: chat over the WebSocket (REST fallback), a live device dashboard, push-to-talk.
// Vanilla JS, no build step; every piece of data comes from the authenticated /api/v1.
'use strict';

(() => {
  const API = '/api/v1';
  const TOKEN_KEY = 'hearth.token';
  const CONV_KEY = 'hearth.conversation_id';
  const TURN_TIMEOUT_MS = 30000;
  const PING_EVERY_MS = 25000;
  const PONG_WAIT_MS = 10000;
  const $ = (id) => document.getElementById(id);

  const ui = {
    login: $('login'), loginForm: $('login-form'), tokenInput: $('token-input'), loginError: $('login-error'),
    home: $('home'), log: $('log'), chatForm: $('chat-form'), message: $('message'), send: $('send'),
    mic: $('mic'), micStatus: $('mic-status'), areas: $('areas'), dashNote: $('dash-note'),
    conn: $('conn'), connText: $('conn-text'), signout: $('signout'),
  };

  const st = {
    token: null,
    userId: null, // from the socket's auth_ok
    devices: new Map(), // id -> DeviceView
    areas: [], // [{id, name}]
    ws: null,
    wsReady: false,
    pending: new Map(), // request id -> {resolve, reject, timer}
    nextId: 1,
    backoff: 0,
    reconnectTimer: 0,
    pingTimer: 0,
    pongTimer: 0,
    loading: null, // Promise while the device list is being fetched
    reloadAfter: false,
    buffered: null, // device events that arrive during a fetch
    chain: Promise.resolve(), // turns run one after another, so "it" refers to the previous turn
  };

  // ---------------------------------------------------------------------------------------------- storage
  const store = {
    get(area, key) { try { return window[area].getItem(key); } catch { return null; } },
    set(area, key, value) { try { window[area].setItem(key, value); } catch { /* private mode */ } },
    del(area, key) { try { window[area].removeItem(key); } catch { /* private mode */ } },
  };
  const conversationId = () => store.get('sessionStorage', CONV_KEY);
  const rememberConversation = (id) => { if (id) store.set('sessionStorage', CONV_KEY, id); };

  function fromUrl(name) { // a secret in the address bar's #fragment, removed from it at once
    const params = new URLSearchParams(location.hash.slice(1));
    const value = params.get(name);
    if (!value) return null;
    params.delete(name);
    const rest = params.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    return value.trim();
  }
  const tokenFromUrl = () => fromUrl('token');

  // A login link (`hearth serve`, `hearth token link`) carries a one-time code: exchange it for a session token.
  async function exchangeLoginCode(code) {
    let res, data = null;
    try {
      res = await fetch(API + '/auth/login', {
        method: 'POST', cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ code }),
      });
      data = await res.json();
    } catch {
      showLogin('Cannot reach Hearth. Check that the server is running.');
      return;
    }
    if (!res.ok || !data || !data.token) {
      showLogin((data && data.error && data.error.message) || 'That login link did not work.');
      return;
    }
    signIn(data.token);
  }

  // ---------------------------------------------------------------------------------------------- HTTP
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, query) {
    const headers = { Authorization: 'Bearer ' + st.token, Accept: 'application/json' };
    let payload;
    if (body instanceof Blob) {
      headers['Content-Type'] = body.type;
      payload = await body.arrayBuffer(); // bytes, not a Blob handle: simpler for proxies and test tools
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const url = API + path + (query ? '?' + new URLSearchParams(query) : '');
    let res;
    try {
      res = await fetch(url, { method, headers, body: payload, cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach Hearth. Check that the server is running.');
    }
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    if (res.status === 401) {
      signOut('That token was not accepted. Please sign in again.');
      throw new ApiError(401, 'unauthorized', 'Not signed in.');
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(res.status, err.code || 'http_' + res.status,
        err.message || `Hearth answered ${res.status} ${res.statusText}.`.replace(' .', '.'));
    }
    return data;
  }

  // ---------------------------------------------------------------------------------------------- sign in/out
  function showLogin(message) {
    ui.home.hidden = true;
    ui.signout.hidden = true;
    ui.login.hidden = false;
    ui.loginError.textContent = message || '';
    ui.loginError.hidden = !message;
    ui.tokenInput.value = '';
    ui.tokenInput.focus();
  }

  function signOut(message) {
    st.token = null;
    store.del('localStorage', TOKEN_KEY);
    closeSocket();
    st.devices.clear();
    window.Hearth.emit('signed-out');
    setConn('offline', 'Signed out');
    showLogin(message);
  }

  function signIn(token) {
    st.token = token;
    store.set('localStorage', TOKEN_KEY, token);
    ui.login.hidden = true;
    ui.home.hidden = false;
    ui.signout.hidden = false;
    loadDevices().catch(() => { /* shown in the dashboard note */ });
    connect();
    window.Hearth.emit('signed-in');
  }

  ui.loginForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (!token) {
      ui.loginError.textContent = 'Enter a token.';
      ui.loginError.hidden = false;
      ui.tokenInput.focus();
      return;
    }
    signIn(token);
    ui.message.focus();
  });
  ui.signout.addEventListener('click', () => signOut(''));

  // ---------------------------------------------------------------------------------------------- WebSocket
  function setConn(state, text) {
    ui.conn.dataset.state = state;
    ui.connText.textContent = text;
  }

  function connect() {
    if (!st.token || st.ws) return;
    clearTimeout(st.reconnectTimer);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + API + '/ws';
    let ws;
    try { ws = new WebSocket(url); } catch { scheduleReconnect(); return; }
    st.ws = ws;
    st.wsReady = false;
    setConn('connecting', 'Connecting…');
    ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token: st.token })));
    ws.addEventListener('message', (ev) => {
      if (st.ws !== ws) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      onSocketMessage(ws, msg);
    });
    ws.addEventListener('close', (ev) => {
      if (st.ws !== ws) return;
      st.ws = null;
      st.wsReady = false;
      stopPing();
      failPending('The connection to Hearth was lost before it answered. Please try again.');
      if (ev.code === 4401) { signOut('That token was not accepted. Please sign in again.'); return; }
      if (!st.token) return;
      // 1001: the server is going away (stopped or restarting); try again soon, from the shortest delay.
      if (ev.code === 1001) st.backoff = 0;
      setConn('offline', 'Reconnecting…');
      scheduleReconnect();
    });
  }

  function closeSocket() {
    clearTimeout(st.reconnectTimer);
    stopPing();
    const ws = st.ws;
    st.ws = null;
    st.wsReady = false;
    if (ws) ws.close(1000);
    failPending('Signed out.');
  }

  function scheduleReconnect() {
    clearTimeout(st.reconnectTimer);
    const delay = Math.min(15000, 500 * 2 ** st.backoff) * (0.75 + Math.random() * 0.5);
    st.backoff = Math.min(st.backoff + 1, 10);
    st.reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (st.token && !st.ws) { st.backoff = 0; connect(); }
  }
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) reconnectNow(); });

  function startPing(ws) {
    stopPing();
    st.pingTimer = setInterval(() => {
      if (st.ws !== ws || !st.wsReady) return;
      ws.send(JSON.stringify({ type: 'ping', id: 'ping-' + st.nextId++ }));
      clearTimeout(st.pongTimer);
      st.pongTimer = setTimeout(() => ws.close(4000, 'no pong'), PONG_WAIT_MS);
    }, PING_EVERY_MS);
  }

  function stopPing() {
    clearInterval(st.pingTimer);
    clearTimeout(st.pongTimer);
  }

  function onSocketMessage(ws, msg) {
    switch (msg.type) {
      case 'auth_ok':
        st.userId = msg.user_id || null;
        st.wsReady = true;
        st.backoff = 0;
        setConn('online', 'Live');
        startPing(ws);
        // Catch up on anything missed while the socket was down; events during the fetch are replayed after it.
        loadDevices().catch(() => { /* shown in the dashboard note */ });
        window.Hearth.emit('live', msg);
        break;
      case 'result': {
        const waiter = st.pending.get(msg.id);
        if (waiter) { st.pending.delete(msg.id); clearTimeout(waiter.timer); waiter.resolve(msg); }
        break;
      }
      case 'error': {
        const err = msg.error || {};
        const waiter = msg.id !== undefined ? st.pending.get(msg.id) : null;
        if (waiter) {
          st.pending.delete(msg.id);
          clearTimeout(waiter.timer);
          waiter.reject(new ApiError(400, err.code || 'error', err.message || 'Hearth could not handle that.'));
        }
        break;
      }
      case 'pong':
        clearTimeout(st.pongTimer);
        break;
      case 'event':
        if (msg.event === 'device.status' && msg.data) onDeviceEvent(msg.data);
        window.Hearth.emit('socket-event', msg);
        break;
      default:
        break;
    }
  }

  function socketRequest(message) {
    const ws = st.ws;
    if (!ws || !st.wsReady || ws.readyState !== WebSocket.OPEN) return null;
    const id = 'c' + st.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        st.pending.delete(id);
        reject(new ApiError(504, 'timeout', 'Hearth took too long to answer.'));
      }, TURN_TIMEOUT_MS);
      st.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...message, id }));
    });
  }

  function failPending(message) {
    for (const [id, waiter] of st.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ApiError(0, 'connection_lost', message));
      st.pending.delete(id);
    }
  }

  // ---------------------------------------------------------------------------------------------- devices
  async function loadDevices() {
    if (st.loading) {
      // The running fetch may predate the socket's subscription: fetch once more when it is done.
      st.reloadAfter = true;
      return st.loading;
    }
    st.reloadAfter = false;
    st.buffered = [];
    ui.areas.setAttribute('aria-busy', 'true');
    st.loading = (async () => {
      try {
        const [areas, devices] = await Promise.all([api('GET', '/areas'), api('GET', '/devices')]);
        st.areas = areas.areas || [];
        st.devices = new Map((devices.devices || []).map((d) => [d.id, d]));
        const replay = st.buffered || [];
        st.buffered = null;
        for (const data of replay) applyDeviceEvent(data);
        window.Hearth.emit('devices');
        note('');
      } catch (err) {
        st.buffered = null;
        if (err.status !== 401) note('Could not load devices: ' + err.message, true);
        throw err;
      } finally {
        st.loading = null;
        ui.areas.removeAttribute('aria-busy');
        if (st.reloadAfter && st.token) loadDevices().catch(() => { /* shown in the dashboard note */ });
      }
    })();
    return st.loading;
  }

  function note(text, isError) {
    ui.dashNote.textContent = text;
    ui.dashNote.classList.toggle('error', Boolean(isError));
  }

  function onDeviceEvent(data) {
    if (st.buffered) { st.buffered.push(data); return; }
    applyDeviceEvent(data);
  }

  function applyDeviceEvent(data) {
    const old = st.devices.get(data.device_id);
    let device = data.device;
    if (!device) {
      if (!old) return;
      device = { ...old, state: { ...old.state, ...(data.state || {}) } };
      if (typeof data.available === 'boolean') device.available = data.available;
    }
    putDevice(device);
  }

  function putDevice(device) {
    const old = st.devices.get(device.id);
    st.devices.set(device.id, device);
    if (!st.loading) window.Hearth.emit('device', device, old);
  }

  function applyActions(reply) {
    // Only used when the socket is down: the state then does not arrive as an event.
    for (const action of (reply && reply.actions) || []) {
      const old = st.devices.get(action.device_id);
      if (old) putDevice({ ...old, state: { ...old.state, ...(action.after || {}) } });
    }
  }

  // ---------------------------------------------------------------------------------------------- chat
  function addEntry(role, text, opts = {}) {
    const hint = ui.log.querySelector('[data-role="hint"]');
    if (hint) hint.remove();
    const li = el('li');
    li.dataset.role = role;
    if (opts.kind) li.dataset.kind = opts.kind;
    const who = { user: 'You', assistant: 'Hearth', system: 'Problem' }[role];
    li.append(el('span', { className: 'visually-hidden', textContent: who + ': ' }));
    if (opts.tag) li.append(el('span', { className: 'tag', textContent: opts.tag }));
    if (opts.voice) {
      const via = el('span', { className: 'via' });
      via.innerHTML = MIC_ICON; // constant markup
      li.append(via, el('span', { className: 'visually-hidden', textContent: '(spoken) ' }));
    }
    li.append(el('span', { className: 'text', textContent: text }));
    ui.log.append(li);
    ui.log.scrollTop = ui.log.scrollHeight;
    return li;
  }

  const TAGS = { ask: 'Hearth asks', confirm: 'Please confirm', error: 'Problem', not_built: 'Not available yet' };

  function addReply(reply) {
    const kind = reply.kind || 'answer';
    window.Hearth.questions.settle(reply);
    const li = addEntry('assistant', reply.speech || '(no answer)', { kind, tag: TAGS[kind] });
    if (reply.error_code) li.dataset.errorCode = reply.error_code;
    const buttons = window.Hearth.questions.buttons(reply, (text, questionId) => submitTurn(text, questionId));
    if (buttons) li.append(buttons);
    return li;
  }

  function addTyping() {
    const li = el('li', { className: 'typing' }, [el('span'), el('span'), el('span')]);
    li.setAttribute('aria-label', 'Hearth is thinking');
    li.dataset.role = 'pending';
    ui.log.append(li);
    ui.log.scrollTop = ui.log.scrollHeight;
    return li;
  }

  async function runTurn(text, replyTo) {
    const body = { text };
    if (replyTo) body.reply_to = replyTo; // a button: it answers only its own question
    const cid = conversationId();
    if (cid) body.conversation_id = cid;
    const viaSocket = socketRequest({ type: 'conversation', ...body });
    if (viaSocket) return { result: await viaSocket, live: true };
    return { result: await api('POST', '/conversation', body), live: false };
  }

  function submitTurn(text, replyTo) {
    addEntry('user', text);
    st.chain = st.chain.then(async () => {
      const typing = addTyping();
      try {
        const { result, live } = await runTurn(text, replyTo);
        const reply = result.reply || { speech: '', kind: 'error' };
        rememberConversation(result.conversation_id || reply.conversation_id);
        addReply(reply);
        if (!live || !st.wsReady) applyActions(reply);
      } catch (err) {
        if (err.status !== 401) addEntry('system', err.message);
      } finally {
        typing.remove();
      }
    });
    return st.chain;
  }

  ui.chatForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = ui.message.value.trim();
    if (!text || !st.token) return;
    ui.message.value = '';
    submitTurn(text.slice(0, 1000));
  });

  // ---------------------------------------------------------------------------------------------- voice
  const mic = {
    phase: 'idle', // idle | starting | recording | sending
    toggleMode: false,
    stopRequested: false,
    pressedAt: 0,
    stream: null, ctx: null, node: null, source: null, sink: null,
    chunks: [], rate: 48000, maxTimer: 0,
  };
  const HOLD_MS = 400;
  const MAX_RECORD_MS = 30000;

  function micSay(text) { ui.micStatus.textContent = text; }

  function micLabel() {
    const recording = mic.phase === 'starting' || mic.phase === 'recording';
    ui.mic.setAttribute('aria-pressed', String(recording));
    ui.mic.setAttribute('aria-label', recording
      ? (mic.toggleMode ? 'Stop recording and send' : 'Release to send') : 'Hold to talk');
    if (mic.phase === 'sending') ui.mic.setAttribute('aria-busy', 'true');
    else ui.mic.removeAttribute('aria-busy');
  }

  function disableVoice(text) {
    ui.mic.disabled = true;
    ui.mic.title = text;
    micSay(text);
  }

  async function beginRecording() {
    if (mic.phase !== 'idle' || ui.mic.disabled) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioContext) {
      disableVoice('The microphone needs a secure page (https or localhost).');
      return;
    }
    mic.phase = 'starting';
    mic.stopRequested = false;
    mic.chunks = [];
    micLabel();
    micSay('Listening…');
    try {
      mic.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      mic.ctx = new AudioContext();
      mic.rate = mic.ctx.sampleRate;
      mic.source = mic.ctx.createMediaStreamSource(mic.stream);
      mic.sink = mic.ctx.createGain();
      mic.sink.gain.value = 0;
      mic.sink.connect(mic.ctx.destination);
      if (mic.ctx.audioWorklet && window.AudioWorkletNode) {
        await mic.ctx.audioWorklet.addModule('/static/recorder-worklet.js');
        mic.node = new AudioWorkletNode(mic.ctx, 'pcm-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
        mic.node.port.onmessage = (ev) => { if (mic.phase === 'recording' || mic.phase === 'starting') mic.chunks.push(ev.data); };
      } else {
        mic.node = mic.ctx.createScriptProcessor(4096, 1, 1);
        mic.node.onaudioprocess = (ev) => {
          if (mic.phase === 'recording' || mic.phase === 'starting') mic.chunks.push(new Float32Array(ev.inputBuffer.getChannelData(0)));
        };
      }
      mic.source.connect(mic.node);
      mic.node.connect(mic.sink);
      if (mic.ctx.state === 'suspended') await mic.ctx.resume();
    } catch (err) {
      releaseAudio();
      mic.phase = 'idle';
      micLabel();
      micSay(err && err.name === 'NotAllowedError' ? 'Microphone permission was denied.'
        : 'Could not use the microphone' + (err && err.message ? ': ' + err.message : '.'));
      return;
    }
    mic.phase = 'recording';
    mic.maxTimer = setTimeout(() => finishRecording(), MAX_RECORD_MS);
    micLabel();
    if (mic.stopRequested) finishRecording();
  }

  function releaseAudio() {
    clearTimeout(mic.maxTimer);
    try { if (mic.node) { mic.node.disconnect(); if (mic.node.port) mic.node.port.onmessage = null; } } catch { /* gone */ }
    try { if (mic.source) mic.source.disconnect(); } catch { /* gone */ }
    if (mic.stream) for (const track of mic.stream.getTracks()) track.stop();
    if (mic.ctx) mic.ctx.close().catch(() => {});
    mic.stream = mic.ctx = mic.node = mic.source = mic.sink = null;
  }

  function cancelRecording() {
    if (mic.phase !== 'recording' && mic.phase !== 'starting') return;
    releaseAudio();
    mic.phase = 'idle';
    mic.chunks = [];
    micLabel();
    micSay('Recording cancelled.');
  }

  async function finishRecording() {
    if (mic.phase === 'starting') { mic.stopRequested = true; return; }
    if (mic.phase !== 'recording') return;
    const rate = mic.rate;
    const chunks = mic.chunks;
    releaseAudio();
    mic.chunks = [];
    const samples = concat(chunks);
    if (samples.length < rate * 0.3) {
      mic.phase = 'idle';
      micLabel();
      micSay('Too short. Hold the button while you speak, or click once to start and again to stop.');
      return;
    }
    mic.phase = 'sending';
    micLabel();
    micSay('Sending…');
    const wav = encodeWav(downsample(samples, rate, 16000), 16000);
    st.chain = st.chain.then(() => sendVoice(wav));
    await st.chain;
  }

  async function sendVoice(wav) {
    const typing = addTyping();
    try {
      const query = conversationId() ? { conversation_id: conversationId() } : undefined;
      const result = await api('POST', '/voice', wav, query);
      micSay('');
      addEntry('user', result.transcript || '(nothing heard)', { voice: true });
      if (result.reply) {
        rememberConversation(result.reply.conversation_id || result.conversation_id);
        addReply(result.reply);
        if (!st.wsReady) applyActions(result.reply);
      }
      playReplyAudio(result).catch(() => micSay('Could not play the spoken reply.'));
    } catch (err) {
      if (err.status === 404 || err.status === 501) disableVoice('Voice is not enabled on this server');
      else if (err.status !== 401) addEntry('system', 'Voice: ' + err.message);
      if (err.status !== 404 && err.status !== 501) micSay('');
    } finally {
      typing.remove();
      mic.phase = 'idle';
      micLabel();
    }
  }

  async function playReplyAudio(result) {
    let url = null;
    let revoke = false;
    const type = result.content_type || 'audio/wav';
    if (result.audio_base64) {
      const bytes = Uint8Array.from(atob(result.audio_base64), (c) => c.charCodeAt(0));
      url = URL.createObjectURL(new Blob([bytes], { type }));
      revoke = true;
    } else if (result.audio && result.audio.url) {
      const target = new URL(result.audio.url, location.href);
      if (target.origin === location.origin) {
        const res = await fetch(target, { headers: { Authorization: 'Bearer ' + st.token } });
        if (!res.ok) throw new Error('audio ' + res.status);
        url = URL.createObjectURL(await res.blob());
        revoke = true;
      } else {
        url = target.href;
      }
    }
    if (!url) return;
    const audio = new Audio(url);
    if (revoke) audio.addEventListener('ended', () => URL.revokeObjectURL(url), { once: true });
    await audio.play();
  }

  // Push-to-talk: hold (pointer) to record and release to send; a short click, or Enter/Space, starts and
  // a second one stops. Escape cancels.
  ui.mic.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 || ui.mic.disabled) return;
    if (mic.phase === 'idle') {
      ui.mic.setPointerCapture(ev.pointerId);
      mic.toggleMode = false;
      mic.pressedAt = performance.now();
      beginRecording();
    } else if (mic.toggleMode && (mic.phase === 'recording' || mic.phase === 'starting')) {
      mic.pressedAt = -1; // this press ends the recording; ignore its release
      finishRecording();
    }
  });
  const release = () => {
    if (mic.pressedAt < 0) { mic.pressedAt = 0; return; }
    if (mic.phase !== 'recording' && mic.phase !== 'starting') return;
    if (mic.toggleMode) return;
    if (performance.now() - mic.pressedAt >= HOLD_MS) finishRecording();
    else { mic.toggleMode = true; micLabel(); micSay('Listening… click the microphone again to send.'); }
  };
  ui.mic.addEventListener('pointerup', release);
  ui.mic.addEventListener('pointercancel', release);
  ui.mic.addEventListener('click', (ev) => {
    if (ev.detail !== 0) return; // pointer clicks are handled above; detail 0 = keyboard
    if (mic.phase === 'idle') { mic.toggleMode = true; beginRecording(); }
    else if (mic.phase === 'recording' || mic.phase === 'starting') finishRecording();
  });
  ui.mic.addEventListener('contextmenu', (ev) => ev.preventDefault());
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') cancelRecording(); });

  // ---------------------------------------------------------------------------------------------- audio helpers
  function concat(chunks) {
    let length = 0;
    for (const c of chunks) length += c.length;
    const out = new Float32Array(length);
    let offset = 0;
    for (const c of chunks) { out.set(c, offset); offset += c.length; }
    return out;
  }

  function downsample(input, fromRate, toRate) {
    if (fromRate === toRate) return input;
    const ratio = fromRate / toRate;
    const length = Math.floor(input.length / ratio);
    const out = new Float32Array(length);
    if (ratio > 1) {
      // Average each window of input samples (a box low-pass filter), enough against aliasing for speech.
      for (let i = 0; i < length; i++) {
        const start = Math.floor(i * ratio);
        const end = Math.min(input.length, Math.floor((i + 1) * ratio));
        let sum = 0;
        for (let j = start; j < end; j++) sum += input[j];
        out[i] = sum / Math.max(1, end - start);
      }
    } else {
      for (let i = 0; i < length; i++) {
        const pos = i * ratio;
        const j = Math.floor(pos);
        const next = Math.min(j + 1, input.length - 1);
        out[i] = input[j] + (input[next] - input[j]) * (pos - j);
      }
    }
    return out;
  }

  function encodeWav(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2);
    const view = new DataView(buffer);
    const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
    text(0, 'RIFF');
    view.setUint32(4, 36 + samples.length * 2, true);
    text(8, 'WAVE');
    text(12, 'fmt ');
    view.setUint32(16, 16, true); // fmt chunk size
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, rate, true);
    view.setUint32(28, rate * 2, true); // byte rate
    view.setUint16(32, 2, true); // block align
    view.setUint16(34, 16, true); // bits per sample
    text(36, 'data');
    view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const v = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
    }
    return new Blob([buffer], { type: 'audio/wav' });
  }

  // ---------------------------------------------------------------------------------------------- small helpers
  const { el, sentence, svg } = window.Hearth.util;
  const MIC_ICON = svg('<path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3Zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2Z"/>');

  // ---------------------------------------------------------------------------------------------- parts
  // What the page's other parts (dashboard.js, activity.js, help.js, layout.js) may use.
  window.Hearth.app = {
    api,
    devices: () => st.devices,
    areas: () => st.areas,
    putDevice,
    isLive: () => st.wsReady,
    userId: () => st.userId,
    note,
    say: (text) => { if (st.token) submitTurn(String(text).slice(0, 1000)); },
    compose: (text) => { ui.message.value = text; ui.message.focus(); },
  };

  // ---------------------------------------------------------------------------------------------- start
  const loginCode = fromUrl('code');
  const token = tokenFromUrl() || store.get('localStorage', TOKEN_KEY);
  if (loginCode) exchangeLoginCode(loginCode);
  else if (token) signIn(token);
  else showLogin('');
})();
