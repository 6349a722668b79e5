// DOM building without HTML strings: every value goes in as text or as a
// property, never through innerHTML, so nothing from the API can become
// markup. Inline styles and event-handler attributes are refused here,
// because the appliance's CSP would block them anyway.

const SVG_NS = 'http://www.w3.org/2000/svg';
const PROPS = new Set(['checked', 'disabled', 'selected', 'required', 'hidden', 'multiple', 'readOnly',
  'indeterminate', 'open']);

function setAttrs(el, props) {
  let value;
  let hasValue = false;
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'style' || k === 'innerHTML' || k === 'outerHTML' || /^on./i.test(k)) {
      throw new Error(`dom: attribute ${k} is not allowed`);
    }
    if (k === 'value') { value = v; hasValue = true; continue; }
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (PROPS.has(k)) el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return hasValue ? [true, value] : [false];
}

function appendAll(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('p', {class: 'x'}, 'text', child...) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  const [hasValue, value] = setAttrs(el, props);
  appendAll(el, children);
  // After the children, so that a <select> has its options first.
  if (hasValue) el.value = value == null ? '' : value;
  return el;
}

export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, props);
  appendAll(el, children);
  return el;
}

/** el.append() that skips null and false (the native one would print "null"). */
export function add(el, ...children) {
  appendAll(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  appendAll(el, children);
  return el;
}

let nextId = 0;
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** Offer a Blob as a download with a file name, without a URL that lasts. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
