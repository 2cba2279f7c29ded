// A tiny element builder: h("button", { class: "btn", on: { click } }, "Run"). No framework:
// views build their DOM once and update the parts that change.

export type Child = Node | string | number | null | undefined | false;
type Listeners = { [K in keyof HTMLElementEventMap]?: (e: HTMLElementEventMap[K]) => void };
export interface Attrs {
  readonly [name: string]: string | number | boolean | null | undefined | Listeners;
  readonly on?: Listeners;
}

function append(el: Element, children: readonly (Child | readonly Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else if (c !== null && c !== undefined && c !== false) el.append(String(c));
  }
}

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") {
      for (const [type, fn] of Object.entries(v as Listeners)) el.addEventListener(type, fn as EventListener);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else if (v !== false && v !== null && v !== undefined) {
      el.setAttribute(k, String(v));
    }
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: (Child | readonly Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: (Child | readonly Child[])[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replaces all children of el. */
export function fill(el: Element, ...children: (Child | readonly Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Sets text only when it changed, so screen readers and selections are not disturbed. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Runs a re-render of container and puts the keyboard focus back on the equivalent element (same
 * data-focus-key, or same href) if it was inside, so live refreshes never lose the user's place.
 */
export function keepFocus(container: Element, render: () => void): void {
  const active = document.activeElement;
  const key =
    active && container.contains(active)
      ? (active.getAttribute("data-focus-key") ??
        (active.getAttribute("href") ? `href:${active.getAttribute("href")}` : null))
      : null;
  render();
  if (!key) return;
  const again = key.startsWith("href:")
    ? container.querySelector(`[href="${CSS.escape(key.slice(5))}"]`)
    : container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
  if (again instanceof HTMLElement || again instanceof SVGElement) again.focus();
}
