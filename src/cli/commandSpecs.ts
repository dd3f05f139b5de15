/**
 * Every CLI command's flags, with their kinds, choices and help: the parser checks argv against these
 * and `scalekv <command> --help` prints them. Defaults shown here come from src/shared/defaults.ts.
 */
import { RESOLUTIONS } from '../model/schedule';
import { DEFAULTS, PRECISIONS, PROVIDER_SETTINGS, QUERY_MODES } from '../shared/defaults';
import { PROFILE_POLICIES } from '../shared/requests';
import { POLICY_NAMES } from '../shared/types';
import type { CommandSpec, FlagSpec } from './args';

const D = DEFAULTS;
const RUNNERS = ['auto', 'fused', 'layerwise'];
const RES = Object.keys(RESOLUTIONS);

const model: FlagSpec[] = [
  { name: 'model', kind: 'text', value: 'DIR|FILE', help: 'official-format weights (default: the embedded infinity-shapes model)' },
  { name: 'provider', kind: 'text', value: 'P', choices: PROVIDER_SETTINGS, help: `execution provider (default ${D.provider})` },
  {
    name: 'precision',
    kind: 'text',
    value: 'P',
    choices: PRECISIONS,
    help: 'auto (float16 on GPU providers, float32 on the CPU), fp16 or fp32 (default auto)',
  },
];

const prompts: FlagSpec[] = [
  { name: 'prompt', kind: 'text', repeat: true, help: 'a prompt; repeat for a batch' },
  { name: 'prompts-file', kind: 'text', value: 'FILE', help: 'prompts, one per line (# comments); - reads them from stdin' },
];

const shape: FlagSpec[] = [
  { name: 'resolution', kind: 'text', value: 'R', choices: RES, help: `Infinity pixel budget (default ${D.resolution})` },
  { name: 'aspect', kind: 'text', value: 'W:H', help: `aspect ratio, e.g. 16:9 (default ${D.aspect})` },
  { name: 'cfg', kind: 'number', value: 'X', help: `classifier-free guidance scale (default ${D.cfg})` },
];

const sampling: FlagSpec[] = [
  { name: 'seed', kind: 'integer', value: 'N', help: `sampling seed (default ${D.seed})` },
  { name: 'tau', kind: 'number', value: 'X', help: `sampling temperature (default ${D.tau})` },
  { name: 'top-k', kind: 'integer', value: 'N', help: `top-k (default ${D.topK})` },
  { name: 'top-p', kind: 'number', value: 'X', help: `top-p (default ${D.topP})` },
];

const policyTuning: FlagSpec[] = [
  { name: 'ratio', kind: 'number', value: 'X', help: `KV budget as a fraction of the full cache (default ${D.ratio})` },
  {
    name: 'profile',
    kind: 'text',
    value: 'FILE',
    help: `a ScaleKV profile or official budget table, read by ${PROFILE_POLICIES.join(' and ')}`,
  },
  {
    name: 'query-mode',
    kind: 'text',
    value: 'M',
    choices: QUERY_MODES,
    help: `observation-window queries: as the official code or the paper (default ${D.queryMode})`,
  },
  { name: 'window', kind: 'integer', value: 'N', help: `observation-window queries per scale (default ${D.windowSize})` },
  { name: 'kernel', kind: 'integer', value: 'N', help: `max-pooling kernel along the key axis (default ${D.poolingKernel})` },
  {
    name: 'budget-rule',
    kind: 'text',
    value: 'R',
    choices: ['official', 'legacy'],
    help: `how budgets follow from the ratio where they are derived (default: the profile's; calibrate: ${D.budgetRule})`,
  },
];

const calibration: FlagSpec[] = [
  {
    name: 'asi-mode',
    kind: 'text',
    value: 'M',
    choices: ['eq2', 'current', 'history', 'sum'],
    help: `how layers are scored (default ${D.asiMode}: the paper's Eq. 2)`,
  },
  { name: 'asi-top-k', kind: 'integer', value: 'K', help: `K' of Eq. 2: top history weights summed per query (default ${D.asiTopK})` },
  {
    name: 'drafter-pairs',
    kind: 'integer',
    value: 'N',
    help: "N_d of Eq. 3: drafter layer-scale pairs in all (default: the official tables' density)",
  },
];

const PROFILE_NOTE = `--profile is read only by ${PROFILE_POLICIES.join(' and ')}. Given without --policy, it switches the policy to
scalekv; given with a policy that cannot read it, it is an error.`;

const PROMPTS_NOTE = `Long or many prompts belong in a file (--prompts-file F) or on stdin (--prompts-file -): the command
line is limited (onnxruntime-node crashes past about 28 KB of arguments, so the CLI refuses more than 16 KB).`;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'generate',
    summary: 'generate images; writes PNGs, run.json, tokens.bin and retention.bin under --out/<run id>/',
    usage: 'generate --prompt TEXT [--prompt ...] [--out DIR] [--policy scalekv --ratio 0.1] [flags]',
    flags: [
      ...prompts,
      { name: 'out', kind: 'text', value: 'DIR', help: 'folder the run folder is made in (default runs)' },
      {
        name: 'policy',
        kind: 'text',
        value: 'NAME',
        choices: POLICY_NAMES,
        help: `KV-cache policy (default ${D.policy}; with --profile, scalekv)`,
      },
      ...policyTuning,
      ...sampling,
      ...shape,
      ...model,
    ],
    notes: `${PROFILE_NOTE}\nWithout --prompt or --prompts-file one example prompt is drawn.\n${PROMPTS_NOTE}`,
  },
  {
    name: 'calibrate',
    summary: 'calibrate ScaleKV on prompts and write a profile (JSON); resumable through a state file',
    usage: 'calibrate [--out profile.json] [--prompts-file F | --prompt TEXT ...] [--ratio 0.1] [flags]',
    flags: [
      ...prompts,
      { name: 'out', kind: 'text', value: 'FILE', help: 'the profile to write; its folder must exist (default profile.json)' },
      { name: 'ratio', kind: 'number', value: 'X', help: `target KV budget (default ${D.ratio})` },
      { name: 'drafters', kind: 'integer', value: 'N', help: 'drafter layers per scale, legacy rule (default depth / 16, at least 1)' },
      ...calibration,
      {
        name: 'budget-rule',
        kind: 'text',
        value: 'R',
        choices: ['official', 'legacy'],
        help: `how budgets follow from the ratio (default ${D.budgetRule})`,
      },
      { name: 'window', kind: 'integer', value: 'N', help: `observation-window queries per scale (default ${D.windowSize})` },
      { name: 'kernel', kind: 'integer', value: 'N', help: `max-pooling kernel along the key axis (default ${D.poolingKernel})` },
      { name: 'state', kind: 'text', value: 'FILE', help: 'partial-state file to resume from (default <out>.state.json)' },
      {
        name: 'keep-state',
        kind: 'boolean',
        help: 'keep the state file: another ratio, rule or ASI mode on the same prompts and --state is written without a model run',
      },
      ...shape,
      ...model,
    ],
    notes: `Without prompts it calibrates on 10 built-in ones, as the paper does.\n${PROMPTS_NOTE}`,
  },
  {
    name: 'calibrate-shipped',
    summary: "recalibrate a model folder's shipped profiles (10% measured, 4% and 20% derived) and list them in its manifest",
    usage: 'calibrate-shipped --model DIR [--prompts-file F | --prompt TEXT ...] [--provider auto]',
    flags: [
      ...prompts,
      { name: 'model', kind: 'text', value: 'DIR', help: "the model folder (its manifest records the resolution and the weights' sha256)" },
      { name: 'provider', kind: 'text', value: 'P', choices: PROVIDER_SETTINGS, help: `execution provider (default ${D.provider})` },
    ],
    notes: `Run it whenever the weights change (npm run calibrate-default does it for the embedded model): a profile records
the weights' sha256 and one calibrated on other weights is refused.\n${PROMPTS_NOTE}`,
  },
  {
    name: 'compare',
    summary: 'run the full cache and each --policy on the same prompts and seeds; writes compare.json and compare.md',
    usage: 'compare --prompt TEXT [--policy scalekv --policy snapkv ...] [--out DIR] [flags]',
    flags: [
      ...prompts,
      { name: 'out', kind: 'text', value: 'DIR', help: 'folder for the runs and the tables (default runs)' },
      {
        name: 'policy',
        kind: 'text',
        value: 'NAME',
        repeat: true,
        choices: POLICY_NAMES,
        help: 'a policy to compare with the full cache; repeat (default: every one)',
      },
      ...policyTuning,
      ...sampling,
      ...shape,
      ...model,
    ],
    notes: `--profile is given to the compared policies that read it (${PROFILE_POLICIES.join(', ')}); it is an error when none does.\n${PROMPTS_NOTE}`,
  },
  {
    name: 'evaluate',
    summary:
      'every --policy at every --ratio against the full cache over a prompts file; writes leaderboard.json and leaderboard.md; resumable',
    usage: 'evaluate --prompts-file F [--policy P ...] [--ratio 0.04 --ratio 0.1 --ratio 0.2] --out DIR [flags]',
    flags: [
      ...model,
      ...prompts,
      { name: 'out', kind: 'text', value: 'DIR', help: 'the evaluation folder (default evaluation); the same command resumes it' },
      { name: 'policy', kind: 'text', value: 'NAME', repeat: true, choices: POLICY_NAMES, help: 'repeat (default: every policy but full)' },
      { name: 'ratio', kind: 'number', value: 'X', repeat: true, help: 'repeat (default 0.04, 0.1, 0.2)' },
      { name: 'seed', kind: 'integer', value: 'N', repeat: true, help: 'repeat (default 0)' },
      { name: 'resolution', kind: 'text', value: 'R', choices: RES, help: `(default ${D.resolution})` },
      { name: 'aspect', kind: 'text', value: 'W:H', help: `(default ${D.aspect})` },
      { name: 'cfg', kind: 'number', value: 'X', help: `(default ${D.cfg})` },
      { name: 'tau', kind: 'number', value: 'X', help: `(default ${D.tau})` },
      { name: 'top-k', kind: 'integer', value: 'N', help: `(default ${D.topK})` },
      { name: 'top-p', kind: 'number', value: 'X', help: `(default ${D.topP})` },
      {
        name: 'profile',
        kind: 'text',
        value: 'FILE',
        repeat: true,
        help: "a profile for every ratio (default: the model's shipped one); repeat: each row takes the one made for its ratio and rule",
      },
      { name: 'calibrate', kind: 'boolean', help: 'calibrate a ScaleKV profile per ratio instead' },
      { name: 'calibration-prompts-file', kind: 'text', value: 'FILE', help: 'prompts for --calibrate (default: the 10 built-in ones)' },
      {
        name: 'budget-rule',
        kind: 'text',
        value: 'R',
        repeat: true,
        choices: ['official', 'legacy'],
        help: 'repeat: every row once per rule',
      },
      { name: 'ablation', kind: 'boolean', help: "ScaleKV calibrated with ASI eq2, current and history alone (the paper's Fig. 6b)" },
      { name: 'keep-runs', kind: 'boolean', help: "keep every candidate's run folder, not only the references" },
      {
        name: 'progressive',
        kind: 'boolean',
        help: 'also write the leaderboard after every finished prompt (the prompts so far, marked partial), not only at the end',
      },
      { name: 'window', kind: 'integer', value: 'N', help: `(default ${D.windowSize})` },
      { name: 'kernel', kind: 'integer', value: 'N', help: `(default ${D.poolingKernel})` },
      { name: 'query-mode', kind: 'text', value: 'M', choices: QUERY_MODES, help: `(default ${D.queryMode})` },
    ],
    notes: PROMPTS_NOTE,
  },
  {
    name: 'merge-leaderboards',
    summary: 'merge the leaderboards of an evaluation sharded over processes into one; --check scores every kept image against its prompt',
    usage: 'merge-leaderboards --part DIR [--part DIR ...] --out DIR [--check] [--complete-only]',
    flags: [
      {
        name: 'part',
        kind: 'text',
        value: 'DIR',
        repeat: true,
        help: 'an evaluate --out folder; repeat (skipped while it has no leaderboard)',
      },
      { name: 'out', kind: 'text', value: 'DIR', help: 'where leaderboard.json and leaderboard.md (and prompt-check.*) go' },
      {
        name: 'check',
        kind: 'boolean',
        help: 'run the prompt checker on every kept image (evaluate --keep-runs): shares matching colour, +position, +shape per row',
      },
      {
        name: 'complete-only',
        kind: 'boolean',
        help: 'keep only the prompts measured in every row of their budget rule, so the rows of a rule average the same prompts',
      },
    ],
    notes: 'Parts must come from the same model, size and image; a row measured twice for the same prompt and seed is an error.',
  },
  {
    name: 'bench',
    summary: 'time and size the engine per provider, config, resolution and policy; writes a Markdown table and JSON',
    usage: 'bench [--out bench/out/results.md] [--provider cpu ...] [--config tiny ...] [--resolution 1M ...] [flags]',
    flags: [
      { name: 'out', kind: 'text', value: 'FILE', help: 'the table to write, JSON beside it (default bench/out/results.md, untracked)' },
      {
        name: 'provider',
        kind: 'text',
        value: 'P',
        repeat: true,
        choices: PROVIDER_SETTINGS.filter((p) => p !== 'auto'),
        help: 'repeat (default cpu)',
      },
      {
        name: 'config',
        kind: 'text',
        value: 'NAME',
        repeat: true,
        help: 'tiny or 2b-<blocks>, Infinity-2B shapes with random weights; repeat (default tiny)',
      },
      { name: 'resolution', kind: 'text', value: 'R', repeat: true, choices: RES, help: 'repeat (default 0.25M and 1M)' },
      { name: 'policy', kind: 'text', value: 'NAME', repeat: true, choices: POLICY_NAMES, help: 'repeat (default full and scalekv)' },
      { name: 'ratio', kind: 'number', value: 'X', repeat: true, help: `repeat (default ${D.ratio})` },
      {
        name: 'repeats',
        kind: 'integer',
        value: 'N',
        help: 'runs per row: the first builds the graphs, the fastest of the rest is kept (default 2)',
      },
      { name: 'precision', kind: 'text', value: 'P', repeat: true, choices: PRECISIONS, help: 'repeat (default auto: float16 on GPUs)' },
      { name: 'runner', kind: 'text', value: 'R', choices: RUNNERS, help: 'fused per-scale graphs or layer by layer (default auto)' },
    ],
  },
  {
    name: 'make-tiny',
    summary: 'write the random tiny Infinity-architecture checkpoint (.pth + safetensors) that tests use; --calibrate adds profiles',
    usage: 'make-tiny --out DIR [--if-missing] [--calibrate]',
    flags: [
      { name: 'out', kind: 'text', value: 'DIR', help: 'where the model goes' },
      { name: 'if-missing', kind: 'boolean', help: 'keep a complete model that is already there' },
      {
        name: 'calibrate',
        kind: 'boolean',
        help: 'also calibrate one 10% profile per 1:1 resolution (about 5 minutes on 2 cores; the tests need them)',
      },
    ],
  },
  {
    name: 'import-budget',
    summary: 'validate an official ScaleKV budget table and turn it into a profile',
    usage: 'import-budget --in official.json --out profile.json [--model DIR] [--resolution 1M] [--aspect 1:1]',
    flags: [
      { name: 'in', kind: 'text', value: 'FILE', help: 'the official table (keys "Scale 9".., "Block i", Max, Min)' },
      { name: 'out', kind: 'text', value: 'FILE', help: 'the profile to write' },
      {
        name: 'model',
        kind: 'text',
        value: 'DIR|FILE',
        help: 'the model the table is for: its depth, heads and name are read from its files (no sessions are built)',
      },
      { name: 'resolution', kind: 'text', value: 'R', choices: RES, help: `the schedule the table is for (default ${D.resolution})` },
      { name: 'aspect', kind: 'text', value: 'W:H', help: `(default ${D.aspect})` },
      { name: 'depth', kind: 'integer', value: 'N', help: "without --model: layers (default: the table's Block count)" },
      { name: 'heads', kind: 'integer', value: 'N', help: 'without --model: heads (default 16, 28 for 40 layers)' },
      { name: 'head-dim', kind: 'integer', value: 'N', help: 'without --model: head dimension (default 128)' },
      { name: 'name', kind: 'text', value: 'TEXT', help: 'without --model: model name (default infinity-<depth>-layers)' },
    ],
    notes: 'With --model the table is checked against that model (layer count), as Import Budget in VS Code does.',
  },
  {
    name: 'export-budget',
    summary: 'write a profile as an official budget table',
    usage: 'export-budget --in profile.json --out official.json',
    flags: [
      { name: 'in', kind: 'text', value: 'FILE', help: 'a ScaleKV profile' },
      { name: 'out', kind: 'text', value: 'FILE', help: 'the official table to write' },
    ],
  },
  {
    name: 'describe',
    summary: 'load a model and print its configuration and execution provider',
    usage: 'describe [--model DIR] [--provider auto]',
    flags: [...model],
  },
  {
    name: 'export-case',
    summary:
      "write a teacher-forced case (weights, inputs, logits, times) for bench/torch_infinity.py; with --model, that model's case for tools/train/parity.py",
    usage: 'export-case [--config tiny|2b-<blocks> | --model DIR] [--out case] [--resolution 0.25M] [--provider auto] [--repeats 3]',
    flags: [
      { name: 'config', kind: 'text', value: 'NAME', help: 'tiny or 2b-<blocks> (default tiny)' },
      { name: 'model', kind: 'text', value: 'DIR', help: 'a model folder instead of random weights (text, bits, logits, decoded image)' },
      { name: 'prompt', kind: 'text', value: 'TEXT', help: 'with --model: the prompt (default "a red circle at the top left")' },
      { name: 'cfg', kind: 'number', value: 'X', help: 'with --model: guidance scale (default 3)' },
      { name: 'out', kind: 'text', value: 'DIR', help: '(default case)' },
      { name: 'resolution', kind: 'text', value: 'R', choices: RES, help: '(default 0.25M)' },
      { name: 'provider', kind: 'text', value: 'P', choices: PROVIDER_SETTINGS, help: `(default ${D.provider})` },
      { name: 'repeats', kind: 'integer', value: 'N', help: 'timed runs (default 3)' },
      { name: 'precision', kind: 'text', value: 'P', choices: PRECISIONS, help: 'auto (float16 on GPUs), fp16 or fp32 (default auto)' },
      { name: 'runner', kind: 'text', value: 'R', choices: RUNNERS, help: 'fused per-scale graphs or layer by layer (default auto)' },
    ],
  },
  {
    name: 'dataset',
    summary: 'write a procedural captioned dataset: images.u8 (N x S x S x 3), meta.jsonl, dataset.json',
    usage: 'dataset --out DIR --count N [--size 512] [--seed S] [--split train|heldout] [--workers K]',
    flags: [
      { name: 'out', kind: 'text', value: 'DIR', help: 'the dataset folder (written whole or not at all)' },
      { name: 'count', kind: 'integer', value: 'N', help: 'images' },
      { name: 'size', kind: 'integer', value: 'S', help: 'pixels on a side (default 512)' },
      { name: 'seed', kind: 'integer', value: 'S', help: '(default 0)' },
      { name: 'split', kind: 'text', value: 'NAME', choices: ['train', 'heldout'], help: '(default train)' },
      { name: 'workers', kind: 'integer', value: 'K', help: 'worker threads (default: the cores)' },
    ],
  },
  {
    name: 'heldout',
    summary: 'write the 50 held-out evaluation prompts with their ground truth (JSON)',
    usage: 'heldout [--out test/fixtures/dataset/heldout.json]',
    flags: [{ name: 'out', kind: 'text', value: 'FILE', help: '(default test/fixtures/dataset/heldout.json)' }],
  },
  {
    name: 'check-prompts',
    summary: 'generate one image per prompt of a prompts file and score colour, position and shape',
    usage: 'check-prompts --prompts-file F --out DIR [--model DIR] [--limit N] [--policy P --ratio X] [--resolution 0.25M]',
    flags: [
      ...model,
      { name: 'prompts-file', kind: 'text', value: 'FILE', help: 'a held-out prompts file (test/fixtures/dataset/heldout.json)' },
      { name: 'out', kind: 'text', value: 'DIR', help: 'runs and check.json / check.md' },
      { name: 'limit', kind: 'integer', value: 'N', help: 'the first N prompts' },
      { name: 'batch', kind: 'integer', value: 'N', help: 'prompts per generation (default 4)' },
      { name: 'policy', kind: 'text', value: 'NAME', choices: POLICY_NAMES, help: '(default full)' },
      { name: 'resolution', kind: 'text', value: 'R', choices: RES, help: '(default 0.25M)' },
      { name: 'cfg', kind: 'number', value: 'X', help: `classifier-free guidance scale (default ${D.cfg})` },
      ...sampling,
      ...policyTuning,
    ],
  },
  {
    name: 'make-text-encoder',
    summary: "write a frozen flan-t5-shaped encoder whose tokenizer holds every word of --dataset DIR's dataset.json",
    usage: 'make-text-encoder --out DIR (--dataset DIR | --word W ...) [--vocab-size 512]',
    flags: [
      { name: 'out', kind: 'text', value: 'DIR', help: '(default flan-t5-shapes)' },
      { name: 'dataset', kind: 'text', value: 'DIR', help: 'a dataset folder (its vocabulary)' },
      { name: 'word', kind: 'text', repeat: true, help: 'a word the tokenizer must hold whole' },
      { name: 'vocab-size', kind: 'integer', value: 'N', help: '(default 512)' },
      { name: 'seed', kind: 'integer', value: 'N', help: '(default 2024)' },
      { name: 'rel-std', kind: 'number', value: 'X', help: 'relative-attention bias scale (default 2)' },
    ],
  },
  {
    name: 'encode-text',
    summary: 'token ids and T5 features of --prompt ... as JSON',
    usage: 'encode-text (--text-encoder DIR | --model DIR) --prompt P ... [--out F.json]',
    flags: [
      { name: 'text-encoder', kind: 'text', value: 'DIR', help: 'a flan-t5-shaped folder' },
      { name: 'model', kind: 'text', value: 'DIR', help: 'a model folder (its text encoder)' },
      { name: 'prompt', kind: 'text', repeat: true, help: 'repeat' },
      { name: 'out', kind: 'text', value: 'FILE', help: '(default encode-text.json)' },
    ],
  },
];

export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
