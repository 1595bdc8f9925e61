import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATIONS, splitStatements } from './migrations.ts';

test('a migration splits into its statements; semicolons in comments split nothing', () => {
  assert.deepEqual(
    splitStatements(
      '-- Why: rows by the million; without it a scan.\nCREATE INDEX a ON t (x); -- after; this\nDROP INDEX b;\n',
    ),
    ['CREATE INDEX a ON t (x)', 'DROP INDEX b'],
  );
});

test('every migration has statements, and none of them starts inside a comment', () => {
  for (const m of MIGRATIONS) {
    const statements = splitStatements(m.sql);
    assert.ok(statements.length > 0, `${m.id} has statements`);
    for (const s of statements) assert.match(s, /^[A-Z]/, `${m.id}: ${s.slice(0, 60)}`);
  }
});
