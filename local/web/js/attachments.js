// Photo attachments (docs/http-api.md, "Attachments"): upload straight to S3 with the
// presigned PUT the API gives, and show a message's photo as a thumbnail that opens full size.
// A photo's state and URLs come from GET /rooms/{roomId}/attachments/{attId}; the URLs expire,
// so they are asked for when shown, and again after an `attachment` event or their expiry.

export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/heic'];

// PUT the file to the presigned URL, reporting progress (0..1). Resolves when S3 took it.
export function putWithProgress(upload, file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    for (const [name, value] of Object.entries(upload.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || '');
        reject(new Error(`the upload was refused (HTTP ${xhr.status}${code ? ` ${code[1]}` : ''})`));
      }
    };
    xhr.onerror = () => reject(new Error(`the upload to ${new URL(upload.url).host} failed (network)`));
    xhr.send(file);
  });
}

// Presign, then upload. Resolves {key, attId}; rejects with a message a person can read.
export async function uploadPhoto(api, roomId, file, onProgress) {
  if (!PHOTO_TYPES.includes(file.type)) {
    throw new Error(`${file.name || 'this file'} is not a JPEG, PNG, WebP or HEIC photo`);
  }
  const created = await api.createAttachment(roomId, file.type, file.size);
  await putWithProgress(created.upload, file, onProgress);
  return { key: created.key, attId: created.attId };
}

// The photos of the open rooms as the API reports them, fetched once per attId and again when
// their state changes or their URLs are about to expire.
export class PhotoStates {
  constructor(api, onChange) {
    this.api = api;
    this.onChange = onChange;     // (attId) => re-render what shows it
    this.known = new Map();       // attId -> {state, until}
    this.loading = new Map();     // attId -> promise
  }

  // The state to show now (null until the first answer); asks the API when needed.
  state(roomId, attId) {
    const held = this.known.get(attId);
    if (held && held.until > Date.now()) return held.state;
    if (!this.loading.has(attId)) {
      const p = this.api.attachment(roomId, attId)
        .then((state) => {
          // pending: ask again after the next `attachment` event (or in 10 s, if it was missed)
          const life = state.status === 'pending' ? 10000 : Math.max(5000, ((state.expiresIn || 60) - 30) * 1000);
          this.known.set(attId, { state, until: Date.now() + life });
        })
        .catch((err) => this.known.set(attId, { state: { status: 'error', reason: err.message }, until: Date.now() + 10000 }))
        .finally(() => { this.loading.delete(attId); this.onChange(attId); });
      this.loading.set(attId, p);
    }
    return held ? held.state : null;
  }

  // An `attachment` event: the check is done; the next render asks for the URLs.
  checked(event) {
    const attId = event?.attachment?.attId;
    if (!attId) return;
    this.known.delete(attId);
    this.onChange(attId);
  }
}

// What a message shows of its photo, in `figure` (kept across renders).
export function renderPhoto(figure, ref, state, h) {
  figure.hidden = !ref;
  if (!ref) return;
  const status = state ? state.status : 'pending';
  const sig = `${ref.attId}|${status}|${state?.thumbUrl || state?.url || ''}`;
  if (figure.dataset.sig === sig) return;
  figure.dataset.sig = sig;
  figure.dataset.attId = ref.attId;
  figure.dataset.status = status;
  if (status === 'ready' && state.url) {
    const img = h('img', { class: 'thumb', src: state.thumbUrl || state.url, alt: 'Photo (opens full size)' });
    const open = h('button', { type: 'button', class: 'thumb-button', 'aria-label': 'Open the photo full size',
      onclick: () => showFull(state.url, h) }, img);
    figure.replaceChildren(open);
  } else if (status === 'rejected' || status === 'error') {
    figure.replaceChildren(h('figcaption', { class: 'photo-note bad',
      text: `Photo not shown: ${state?.reason || 'it could not be checked'}` }));
  } else {
    figure.replaceChildren(h('figcaption', { class: 'photo-note', text: 'Photo: checking…' }));
  }
}

// The photo full size, in a modal dialog (Esc or the button closes it).
export function showFull(url, h) {
  let dialog = document.getElementById('photo-viewer');
  if (!dialog) {
    dialog = h('dialog', { id: 'photo-viewer', class: 'photo-viewer', 'aria-label': 'Photo' },
      h('img', { class: 'full', alt: 'Photo, full size' }),
      h('form', { method: 'dialog' }, h('button', { type: 'submit', class: 'primary', text: 'Close' })));
    document.body.append(dialog);
  }
  dialog.querySelector('img.full').src = url;
  if (!dialog.open) dialog.showModal();
}
