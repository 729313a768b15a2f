import { describe, expect, inject, it } from 'vitest';
import { freshMysqlStore } from '../helpers/mysql-store.js';

const rootUrl = inject('mariadbUrl');

// Friend lists, groups, users and device cursors read at once by many logins go out batched (BatchGate):
// each caller still gets its own answer, in order.
describe('MySQL reads batched across users', () => {
  it('answers concurrent friend lists, group lists and user rows of many users each with their own', async () => {
    const { store } = await freshMysqlStore(rootUrl);
    try {
      // One after another: lists come ordered by id.
      const created = [];
      for (const n of ['a', 'b', 'c', 'd']) created.push(await store.users.create(n, `h-${n}`));
      const [a, b, c, d] = created;
      await store.friends.add(a!.id, c!.id);
      await store.friends.add(a!.id, b!.id);
      await store.friends.add(b!.id, c!.id);
      const g1 = await store.groups.create(a!.id, 'g1', 'one');
      const g2 = await store.groups.create(c!.id, 'g2', 'two');
      await store.groups.addMember(g2.id, a!.id);

      const users = [a!, b!, c!, d!, a!];
      const [friends, groups, rows] = await Promise.all([
        Promise.all(users.map((u) => store.friends.list(u.id))),
        Promise.all(users.map((u) => store.groups.listForUser(u.id))),
        Promise.all(users.map((u) => store.users.findById(u.id))),
      ]);
      const names = (list: readonly { name: string }[]) => list.map((x) => x.name);
      expect(friends.map(names)).toEqual([['b', 'c'], ['a', 'c'], ['a', 'b'], [], ['b', 'c']]);
      expect(groups.map(names)).toEqual([['g1', 'g2'], [], ['g2'], [], ['g1', 'g2']]);
      expect(groups[0]![1]!.members.map((m) => [m.name, m.role])).toEqual([
        ['c', 'creator'],
        ['a', 'normal'],
      ]);
      expect(rows.map((r) => r?.passwordHash)).toEqual(['h-a', 'h-b', 'h-c', 'h-d', 'h-a']);
      // Answers are the callers' own: changing one does not change another's.
      friends[0]!.pop();
      expect(names(friends[4]!)).toEqual(['b', 'c']);
      expect(g1.name).toBe('g1');
    } finally {
      await store.close();
    }
  });
});
