/**
 * `npm run bench:journal`: how long the server's seen-ids journal (`stateDir`) holds the event loop while it compacts,
 * side by side with the baseline of compacting in one go. SeenIds with a journal takes `--ids` ids (default 300,000)
 * at its default capacity (100,000), 100 per event-loop turn, as a busy server's reads would hand them over; the
 * journal is compacted each time it passes twice the capacity. The baseline runs every step of a compaction at once,
 * inside the add() that started it (the journal was compacted that way until 2026-11-27); fastsocket runs a step per
 * event-loop turn. The table gives the longest add() and the longest turn of the loop (add()s and compaction steps
 * together), both of which a message arriving meanwhile waits for, and the journal's size at the end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JOURNAL_FILE, SeenIds, type Scheduler } from '../src/fastsocket/seen-ids';
import { benchCli, describeMachine, fmt, machine, type Machine, positiveOption, renderTable, type Report } from './bench-kit';

const CAPACITY = 100_000;
const IDS_PER_TURN = 100;

interface Row {
  way: 'baseline' | 'fastsocket';
  max_add_ms: number;
  max_turn_ms: number;
  compaction_steps: number;
  journal_lines: number;
}

interface JournalReport extends Report {
  benchmark: 'journal';
  machine: Machine;
  ids: number;
  capacity: number;
  rows: Row[];
}

/** Adds `count` uuid-like ids, IDS_PER_TURN per turn of the event loop, timing each add() and each turn. */
function run(way: Row['way'], count: number, capacity: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fastsocket-bench-journal-'));
  let steps = 0;
  const atOnce: Scheduler = (task) => {
    steps++;
    task();
  };
  const perTurn: Scheduler = (task) =>
    void setImmediate(() => {
      steps++;
      task();
    });
  const seen = new SeenIds(capacity, dir, undefined, undefined, way === 'baseline' ? atOnce : perTurn);
  let maxAdd = 0;
  let maxTurn = 0;
  let added = 0;
  let lastTurn = performance.now();
  return new Promise((resolve, reject) => {
    // A chain of immediates measures each turn: everything between two of them held the loop.
    const turn = (): void => {
      const now = performance.now();
      maxTurn = Math.max(maxTurn, now - lastTurn);
      lastTurn = now;
      if (added < count) setImmediate(turn);
    };
    const batch = (): void => {
      try {
        for (let k = 0; k < IDS_PER_TURN && added < count; k++, added++) {
          const t0 = performance.now();
          seen.add(`6f1c1f2e-8a43-4d7e-9a57-${String(added).padStart(12, '0')}`);
          maxAdd = Math.max(maxAdd, performance.now() - t0);
        }
        if (added < count) {
          setImmediate(batch);
          return;
        }
        seen.close();
        const lines = fs.readFileSync(path.join(dir, JOURNAL_FILE), 'latin1').split('\n').length - 1;
        fs.rmSync(dir, { recursive: true, force: true });
        resolve({ way, max_add_ms: maxAdd, max_turn_ms: maxTurn, compaction_steps: steps, journal_lines: lines });
      } catch (err) {
        reject(err as Error);
      }
    };
    setImmediate(batch);
    setImmediate(turn);
  });
}

benchCli<JournalReport>({
  name: 'journal',
  usage: '[--ids N]',
  options: { ids: { type: 'string' } },
  async run(values, { progress }) {
    const quick = values.quick === true;
    const capacity = quick ? 3_000 : CAPACITY;
    const ids = Math.round(positiveOption(values, 'ids', quick ? 10_000 : 300_000));
    const m = machine();
    const rows: Row[] = [];
    // Alternated, so that the machine's drift falls on both alike.
    for (const [i, way] of (['baseline', 'fastsocket', 'baseline', 'fastsocket'] as const).entries()) {
      progress(i / 4, way);
      rows.push(await run(way, ids, capacity));
    }
    progress(1, 'done');
    return { benchmark: 'journal', quick, machine: { ...m, loadavg_end: os.loadavg() }, ids, capacity, rows };
  },
  render(r) {
    const table = renderTable(
      ['way', 'longest add() ms', 'longest loop turn ms', 'compaction steps', 'journal lines at the end'],
      r.rows.map((x) => [x.way, fmt(x.max_add_ms, 2), fmt(x.max_turn_ms, 2), String(x.compaction_steps), String(x.journal_lines)]),
    );
    return [
      `bench:journal: ${describeMachine(r.machine)}; ${r.ids} ids into SeenIds with a journal, capacity ${r.capacity}, ${IDS_PER_TURN} per event-loop turn${r.quick ? '; QUICK: not for quoting' : ''}`,
      'baseline: each compaction written in one go inside add(); fastsocket: 2,000 ids per event-loop turn',
      '',
      table,
    ].join('\n');
  },
});
