// The live view: GET /api/v1/stream (Server-Sent Events) read with fetch()
// and a stream reader rather than EventSource, because EventSource cannot
// send headers: this way the tenant a system admin works on goes as
// X-Tenant, like every other request, and the server needs no second way
// to name it. Reconnects after a pause with Last-Event-ID, so nothing
// committed meanwhile is missed (the server replays up to 1000 events, or
// says "reset"). A refused stream (session ended) waits: the page's next
// request renews the session.

import { tenant } from './api.js';

/**
 * openStream({onEvent, onAlert, onReset, onState}) -> {close}
 * onState('connecting' | 'live' | 'reconnecting', status?)
 */
export function openStream({ onEvent, onAlert, onReset, onState = () => {} }) {
  let stopped = false;
  let lastId = null;
  let ctrl = null;
  let retry = 3000;
  let timer = null;

  const pause = (ms) => new Promise((resolve) => { timer = setTimeout(resolve, ms); });

  function dispatch(block) {
    let type = 'message';
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Math.max(1000, Number(value));
    }
    if (id) lastId = id;
    if (!data.length) return;
    let doc;
    try {
      doc = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (type === 'event' && onEvent) onEvent(doc);
    else if (type === 'alert' && onAlert) onAlert(doc);
    else if (type === 'reset' && onReset) onReset(doc);
  }

  async function loop() {
    onState('connecting');
    while (!stopped) {
      ctrl = new AbortController();
      let wait = retry;
      try {
        const headers = { Accept: 'text/event-stream' };
        if (tenant()) headers['X-Tenant'] = tenant();
        if (lastId) headers['Last-Event-ID'] = lastId;
        const res = await fetch('/api/v1/stream', {
          headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error', signal: ctrl.signal,
        });
        if (!res.ok || !res.body) {
          onState('reconnecting', res.status);
          // 503: every stream slot is taken; 401/403: the page renews the session.
          wait = res.status === 503 ? 10000 : res.status === 401 || res.status === 403 ? 15000 : retry;
        } else {
          onState('live');
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = '';
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            buf += value.replace(/\r\n?/g, '\n');
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              dispatch(block);
            }
          }
          if (!stopped) onState('reconnecting');
        }
      } catch {
        if (stopped) return;
        onState('reconnecting');
      }
      if (stopped) return;
      await pause(wait);
    }
  }

  loop();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (ctrl) ctrl.abort();
    },
  };
}
