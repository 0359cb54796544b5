// Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went: self time by area
// (a package, a file of ours, node internals, GC) and inclusive time of the heaviest functions.
import { readFileSync } from 'node:fs';
import { fmt, note, printTable } from './report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const IDLE = new Set(['(idle)', '(root)']);

export function areaOf(url: string, functionName: string, root: string): string {
  if (!url) return functionName || '(anonymous)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(root) ? path.slice(root.length) : path;
}

/** The file for a function's label: inside node_modules from the package on, else relative to the project. */
function fileOf(url: string, root: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length).replace('/dist/esm/', '/…/').replace('/dist/', '/…/');
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(root) ? path.slice(root.length) : path;
}

export function summariseProfile(file: string, root: string, top = 20): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${fileOf(n.callFrame.url, root)}:${n.callFrame.lineNumber + 1}`;

  const areaSelf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  // Depth-first over the call tree, bounded by the number of nodes; `path` holds the distinct
  // function keys above the current node, so recursion is counted once.
  const rootNode = profile.nodes[0]!;
  const stack: Array<{ node: ProfileNode; path: string[] }> = [{ node: rootNode, path: [] }];
  for (let guard = 0; stack.length > 0 && guard <= profile.nodes.length; guard++) {
    const { node, path } = stack.pop()!;
    const name = node.callFrame.functionName;
    const key = keyOf(node);
    const here = IDLE.has(name) ? path : path.includes(key) ? path : [...path, key];
    const t = self.get(node.id) ?? 0;
    if (t > 0 && !IDLE.has(name)) {
      busy += t;
      const area = areaOf(node.callFrame.url, name, root);
      areaSelf.set(area, (areaSelf.get(area) ?? 0) + t);
      for (const k of here) inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
    for (const c of node.children ?? []) {
      const child = byId.get(c);
      if (child) stack.push({ node: child, path: here });
    }
  }
  const pct = (us: number) => `${fmt((100 * us) / Math.max(1, busy), 1)}%`;
  note(`profile ${file}: ${fmt(busy / 1000, 0)} ms on CPU (idle excluded)`);
  note('self time by area:');
  printTable(
    ['area', 'self', 'share'],
    [...areaSelf.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([a, us]) => [a, `${fmt(us / 1000, 0)} ms`, pct(us)]),
  );
  note('inclusive time (the function and everything it called):');
  printTable(
    ['function', 'inclusive', 'share'],
    [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .filter(([k]) => !/^(processTicksAndRejections|runMicrotasks|emit|\(garbage collector\)) /.test(k))
      .slice(0, top)
      .map(([k, us]) => [k.length > 110 ? `${k.slice(0, 107)}...` : k, `${fmt(us / 1000, 0)} ms`, pct(us)]),
  );
  note('inclusive time, functions of src/ and of the MCP SDK:');
  printTable(
    ['function', 'inclusive', 'share'],
    [...inclusive.entries()]
      .filter(([k]) => / (src\/|@modelcontextprotocol\/sdk\/)/.test(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k.length > 110 ? `${k.slice(0, 107)}...` : k, `${fmt(us / 1000, 0)} ms`, pct(us)]),
  );
}
