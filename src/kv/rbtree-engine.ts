import { compareKeys, type ChangeResult, type KvEngine, type KvEntry, type SetResult } from './kv-engine.js';

const RED = true;
const BLACK = false;

interface Node {
  key: string;
  value: string;
  color: boolean;
  left: Node;
  right: Node;
  parent: Node;
}

/**
 * A red-black tree ordered by code point (the original's strcmp order), after CLRS with a shared black
 * sentinel. Invariants: the root is black; a red node has black children; every path from a node to a
 * leaf has the same number of black nodes — so height ≤ 2·log2(n+1). `checkInvariants` verifies them.
 */
export class RbTreeEngine implements KvEngine {
  readonly name = 'rbtree';
  private readonly nil: Node;
  private root: Node;
  private count = 0;

  constructor(readonly capacity: number) {
    const nil = { key: '', value: '', color: BLACK } as Node;
    nil.left = nil;
    nil.right = nil;
    nil.parent = nil;
    this.nil = nil;
    this.root = nil;
  }

  get size(): number {
    return this.count;
  }

  get(key: string): string | undefined {
    const node = this.find(key);
    return node === this.nil ? undefined : node.value;
  }

  has(key: string): boolean {
    return this.find(key) !== this.nil;
  }

  set(key: string, value: string): SetResult {
    let parent = this.nil;
    let cursor = this.root;
    let order = 0;
    while (cursor !== this.nil) {
      parent = cursor;
      order = compareKeys(key, cursor.key);
      if (order === 0) return 'EXIST';
      cursor = order < 0 ? cursor.left : cursor.right;
    }
    if (this.count >= this.capacity) return 'FULL';
    const node: Node = { key, value, color: RED, left: this.nil, right: this.nil, parent };
    if (parent === this.nil) this.root = node;
    else if (order < 0) parent.left = node;
    else parent.right = node;
    this.count++;
    this.insertFixup(node);
    return 'OK';
  }

  modify(key: string, value: string): ChangeResult {
    const node = this.find(key);
    if (node === this.nil) return 'NO_EXIST';
    node.value = value;
    return 'OK';
  }

  delete(key: string): ChangeResult {
    const node = this.find(key);
    if (node === this.nil) return 'NO_EXIST';
    this.remove(node);
    this.count--;
    return 'OK';
  }

  entries(limit: number): KvEntry[] {
    return this.range(undefined, undefined, limit);
  }

  /** Entries with from ≤ key ≤ to (either bound optional), in key order, at most `limit`. */
  range(from: string | undefined, to: string | undefined, limit: number): KvEntry[] {
    const out: KvEntry[] = [];
    const visit = (node: Node): void => {
      if (node === this.nil || out.length >= limit) return;
      const aboveFrom = from === undefined || compareKeys(node.key, from) >= 0;
      const belowTo = to === undefined || compareKeys(node.key, to) <= 0;
      if (aboveFrom) visit(node.left);
      if (aboveFrom && belowTo && out.length < limit) out.push({ key: node.key, value: node.value });
      if (belowTo) visit(node.right);
    };
    visit(this.root);
    return out;
  }

  /** Entries whose key starts with `prefix`, after `after` (exclusive), in key order, at most `limit`: paging. */
  scan(prefix: string, after: string | undefined, limit: number): KvEntry[] {
    const out: KvEntry[] = [];
    const exclusive = after !== undefined && compareKeys(after, prefix) >= 0;
    const lower = exclusive ? after : prefix;
    let done = false;
    const visit = (node: Node): void => {
      if (node === this.nil || done) return;
      const order = compareKeys(node.key, lower);
      if (order >= 0) visit(node.left);
      if (done) return;
      if (order > 0 || (order === 0 && !exclusive)) {
        // Keys sharing a prefix are contiguous in key order: the first one without it ends the scan.
        if (!node.key.startsWith(prefix)) {
          done = true;
          return;
        }
        out.push({ key: node.key, value: node.value });
        if (out.length >= limit) {
          done = true;
          return;
        }
      }
      visit(node.right);
    };
    visit(this.root);
    return out;
  }

  /** Throws when a red-black or search-tree invariant is broken; returns the black height. */
  checkInvariants(): number {
    if (this.root.color !== BLACK) throw new Error('root is not black');
    let counted = 0;
    const walk = (node: Node, low: string | undefined, high: string | undefined): number => {
      if (node === this.nil) return 1;
      counted++;
      if (low !== undefined && compareKeys(node.key, low) <= 0)
        throw new Error(`order broken at ${node.key}`);
      if (high !== undefined && compareKeys(node.key, high) >= 0)
        throw new Error(`order broken at ${node.key}`);
      if (node.left !== this.nil && node.left.parent !== node) throw new Error('parent link broken');
      if (node.right !== this.nil && node.right.parent !== node) throw new Error('parent link broken');
      if (node.color === RED && (node.left.color === RED || node.right.color === RED))
        throw new Error(`red node ${node.key} has a red child`);
      const left = walk(node.left, low, node.key);
      const right = walk(node.right, node.key, high);
      if (left !== right) throw new Error(`black heights differ under ${node.key}`);
      return left + (node.color === BLACK ? 1 : 0);
    };
    const height = walk(this.root, undefined, undefined);
    if (counted !== this.count) throw new Error(`count ${this.count} but ${counted} nodes`);
    return height;
  }

  private find(key: string): Node {
    let node = this.root;
    while (node !== this.nil) {
      const order = compareKeys(key, node.key);
      if (order === 0) return node;
      node = order < 0 ? node.left : node.right;
    }
    return this.nil;
  }

  private rotateLeft(x: Node): void {
    const y = x.right;
    x.right = y.left;
    if (y.left !== this.nil) y.left.parent = x;
    y.parent = x.parent;
    if (x.parent === this.nil) this.root = y;
    else if (x === x.parent.left) x.parent.left = y;
    else x.parent.right = y;
    y.left = x;
    x.parent = y;
  }

  private rotateRight(x: Node): void {
    const y = x.left;
    x.left = y.right;
    if (y.right !== this.nil) y.right.parent = x;
    y.parent = x.parent;
    if (x.parent === this.nil) this.root = y;
    else if (x === x.parent.right) x.parent.right = y;
    else x.parent.left = y;
    y.right = x;
    x.parent = y;
  }

  private insertFixup(z: Node): void {
    while (z.parent.color === RED) {
      const grand = z.parent.parent;
      if (z.parent === grand.left) {
        const uncle = grand.right;
        if (uncle.color === RED) {
          z.parent.color = BLACK;
          uncle.color = BLACK;
          grand.color = RED;
          z = grand;
        } else {
          if (z === z.parent.right) {
            z = z.parent;
            this.rotateLeft(z);
          }
          z.parent.color = BLACK;
          z.parent.parent.color = RED;
          this.rotateRight(z.parent.parent);
        }
      } else {
        const uncle = grand.left;
        if (uncle.color === RED) {
          z.parent.color = BLACK;
          uncle.color = BLACK;
          grand.color = RED;
          z = grand;
        } else {
          if (z === z.parent.left) {
            z = z.parent;
            this.rotateRight(z);
          }
          z.parent.color = BLACK;
          z.parent.parent.color = RED;
          this.rotateLeft(z.parent.parent);
        }
      }
    }
    this.root.color = BLACK;
  }

  private transplant(u: Node, v: Node): void {
    if (u.parent === this.nil) this.root = v;
    else if (u === u.parent.left) u.parent.left = v;
    else u.parent.right = v;
    v.parent = u.parent;
  }

  private minimum(node: Node): Node {
    while (node.left !== this.nil) node = node.left;
    return node;
  }

  private remove(z: Node): void {
    let y = z;
    let yOriginalColor = y.color;
    let x: Node;
    if (z.left === this.nil) {
      x = z.right;
      this.transplant(z, z.right);
    } else if (z.right === this.nil) {
      x = z.left;
      this.transplant(z, z.left);
    } else {
      y = this.minimum(z.right);
      yOriginalColor = y.color;
      x = y.right;
      if (y.parent === z) x.parent = y;
      else {
        this.transplant(y, y.right);
        y.right = z.right;
        y.right.parent = y;
      }
      this.transplant(z, y);
      y.left = z.left;
      y.left.parent = y;
      y.color = z.color;
    }
    if (yOriginalColor === BLACK) this.deleteFixup(x);
    // The sentinel's parent was borrowed by the fixup; reset it so it never points into the tree.
    this.nil.parent = this.nil;
  }

  private deleteFixup(x: Node): void {
    while (x !== this.root && x.color === BLACK) {
      if (x === x.parent.left) {
        let w = x.parent.right;
        if (w.color === RED) {
          w.color = BLACK;
          x.parent.color = RED;
          this.rotateLeft(x.parent);
          w = x.parent.right;
        }
        if (w.left.color === BLACK && w.right.color === BLACK) {
          w.color = RED;
          x = x.parent;
        } else {
          if (w.right.color === BLACK) {
            w.left.color = BLACK;
            w.color = RED;
            this.rotateRight(w);
            w = x.parent.right;
          }
          w.color = x.parent.color;
          x.parent.color = BLACK;
          w.right.color = BLACK;
          this.rotateLeft(x.parent);
          x = this.root;
        }
      } else {
        let w = x.parent.left;
        if (w.color === RED) {
          w.color = BLACK;
          x.parent.color = RED;
          this.rotateRight(x.parent);
          w = x.parent.left;
        }
        if (w.right.color === BLACK && w.left.color === BLACK) {
          w.color = RED;
          x = x.parent;
        } else {
          if (w.left.color === BLACK) {
            w.right.color = BLACK;
            w.color = RED;
            this.rotateLeft(w);
            w = x.parent.left;
          }
          w.color = x.parent.color;
          x.parent.color = BLACK;
          w.left.color = BLACK;
          this.rotateRight(x.parent);
          x = this.root;
        }
      }
    }
    x.color = BLACK;
  }
}
