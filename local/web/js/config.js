// The web client's configuration. The edges come from the server (/config.json), never from
// the URL: a link with ?edges=ws://evil/ws must not make the page hand the user's token to
// another host. The URL may only pick one of the server's edges (?edge=1) and turn on ?debug=1.

export function readConfig(server = {}, loc = window.location) {
  const q = new URLSearchParams(loc.search);
  const edges = (Array.isArray(server.edges) ? server.edges : [])
    .filter((e) => typeof e === 'string' && /^wss?:\/\//.test(e));
  if (edges.length === 0) {
    const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
    edges.push(`${scheme}://${loc.hostname || '127.0.0.1'}:8001/ws`);
  }
  const edge = Number.parseInt(q.get('edge') || '0', 10);
  const editWindowS = Number.isInteger(server.editWindowS) && server.editWindowS >= 0 ? server.editWindowS : 900;
  return { edges, edgeIndex: Number.isInteger(edge) && edge >= 0 ? edge % edges.length : 0, debug: q.has('debug'),
    editWindowMs: editWindowS * 1000 };
}

export async function fetchServerConfig(fetchImpl = fetch) {
  try {
    const response = await fetchImpl('config.json', { cache: 'no-store' });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}
