/**
 * `titan deploy k8s`: writes the Kubernetes manifests of every cell, one multi-document YAML file per
 * cell (`cell-<id>.yaml`), from a generated map (`--cells N`) or a map file (`--map FILE`). Every object
 * is validated offline first; nothing is written when one is invalid. Needs no edge and no cluster.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CommandUnknownOpts, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { type CellMap, loadCellMap, serializeCellMap } from '../../cells/index.ts';
import { CliErrors } from '../cli/errors.ts';
import { clusterCellMap } from './cell-map.ts';
import { K8sErrors } from './errors.ts';
import { cellManifests, type K8sObject } from './generate.ts';
import { K8S_VERSION, k8sOptions } from './options.ts';
import { toYamlDocuments } from './yaml.ts';

const CELL_FILE = /^cell-(\d+)\.yaml$/;
export const cellFileName = (cell: number) => `cell-${cell}.yaml`;

function integer(what: string, min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < min)
      throw new InvalidArgumentError(`${what} must be an integer >= ${min}`);
    return Number(value);
  };
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** Adds `deploy k8s` to `program`. */
export function addDeployCommands(program: CommandUnknownOpts): void {
  const deploy = program.command('deploy').description('deployment artifacts (no edge needed)');
  deploy
    .command('k8s')
    .description(`write Kubernetes ${K8S_VERSION} manifests for every cell, validated offline`)
    .requiredOption('--out <dir>', 'directory for cell-<id>.yaml files (created if missing)')
    .addOption(
      new Option('--cells <n>', 'generate a map of n cells on the shared infrastructure')
        .argParser(integer('--cells', 2))
        .conflicts('map'),
    )
    .addOption(new Option('--map <file>', 'use this cell map file (placeholders kept)'))
    .option('--image <image>', 'image holding the repository at /app')
    .addOption(
      new Option('--image-pull-policy <policy>', 'image pull policy').choices([
        'Always',
        'IfNotPresent',
        'Never',
      ] as const),
    )
    .option('--redis-cluster <seeds>', 'Redis Cluster seed URLs, comma-separated')
    .option('--kafka-brokers <brokers>', 'Kafka brokers host:port, comma-separated (bus = Kafka)')
    .option('--postgres-url-secret <name>', 'Secret with the PostgreSQL URL under key "url"')
    .option('--redis-url-secret <name>', 'Secret with the Redis URL under key "url"')
    .option('--app-secret <name>', 'Secret with TITAN_POW_SECRET, TITAN_PII_KEYS, ... as keys')
    .option('--ingress-namespace <ns>', 'only this namespace may reach the edge (default: anyone)')
    .option('--egress-cidrs <cidrs>', 'limit egress to the namespace, DNS and these CIDRs, comma-separated')
    .addOption(
      new Option('--edge-min-replicas <n>', 'edge HPA minimum').argParser(integer('--edge-min-replicas', 1)),
    )
    .addOption(
      new Option('--edge-max-replicas <n>', 'edge HPA maximum').argParser(integer('--edge-max-replicas', 1)),
    )
    .addOption(
      new Option('--edge-target-cpu <percent>', 'edge HPA CPU target').argParser(
        integer('--edge-target-cpu', 1),
      ),
    )
    .action(async (o) => {
      if ((o.cells === undefined) === (o.map === undefined))
        throw CliErrors.CLI_USAGE('deploy k8s needs exactly one of --cells <n> and --map <file>');
      const redisCluster = o.redisCluster === undefined ? [] : list(o.redisCluster);
      const map: CellMap =
        o.map !== undefined ? loadCellMap(o.map, { env: false }) : clusterCellMap(o.cells!, { redisCluster });
      // Loaded here, not at the top: it imports every service, which the other titan commands do not need.
      const { SERVICES } = await import('../../services/registry.ts');
      const options = k8sOptions(SERVICES, {
        ...(o.image === undefined ? {} : { image: o.image }),
        ...(o.imagePullPolicy === undefined ? {} : { imagePullPolicy: o.imagePullPolicy }),
        ...(o.postgresUrlSecret === undefined ? {} : { postgresUrlSecret: o.postgresUrlSecret }),
        ...(o.redisUrlSecret === undefined ? {} : { redisUrlSecret: o.redisUrlSecret }),
        ...(o.appSecret === undefined ? {} : { appSecret: o.appSecret }),
        redisCluster,
        kafkaBrokers: o.kafkaBrokers === undefined ? [] : list(o.kafkaBrokers),
        ingressNamespace: o.ingressNamespace,
        egressCidrs: o.egressCidrs === undefined ? [] : list(o.egressCidrs),
        edge: {
          ...(o.edgeMinReplicas === undefined ? {} : { minReplicas: o.edgeMinReplicas }),
          ...(o.edgeMaxReplicas === undefined ? {} : { maxReplicas: o.edgeMaxReplicas }),
          ...(o.edgeTargetCpu === undefined ? {} : { targetCpuPercent: o.edgeTargetCpu }),
        },
      });
      return writeCellManifests(map, options, resolve(o.out));
    });
}

async function writeCellManifests(map: CellMap, options: ReturnType<typeof k8sOptions>, out: string) {
  const mapJson = serializeCellMap(map);
  const perCell = map.cells.map((cell) => ({ cell, objects: cellManifests(map, cell, mapJson, options) }));
  // Loaded here, not at the top: the other titan commands do not need the schemas.
  const { validateManifests, formatProblem } = await import('./validate.ts');
  const problems = validateManifests(perCell.flatMap((c) => c.objects as K8sObject[]));
  if (problems.length > 0) {
    const first = problems.slice(0, 5).map(formatProblem).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw K8sErrors.K8S_MANIFESTS_INVALID(
      `${problems.length} invalid objects, nothing written: ${first}${more}`,
      {
        problems,
      },
    );
  }

  mkdirSync(out, { recursive: true });
  const written = new Set<string>();
  let bytes = 0;
  for (const { cell, objects } of perCell) {
    const header =
      `# Titan Commerce cell ${cell.id}: generated by \`titan deploy k8s\` from cell map ${map.name} ` +
      `v${map.version} for Kubernetes ${K8S_VERSION}. Regenerate rather than edit.\n`;
    const text = header + toYamlDocuments(objects);
    const file = cellFileName(cell.id);
    writeFileSync(join(out, file), text);
    written.add(file);
    bytes += Buffer.byteLength(text);
  }
  // Files of cells no longer in the map would still be applied with `kubectl apply -f DIR`.
  const stale = readdirSync(out).filter((f) => CELL_FILE.test(f) && !written.has(f));
  for (const f of stale) rmSync(join(out, f));

  const objects = perCell.reduce((n, c) => n + c.objects.length, 0);
  const removed = stale.length > 0 ? `, removed ${stale.length} stale cell files` : '';
  process.stdout.write(
    `wrote ${written.size} cell files (${objects} objects, ${(bytes / 1024 / 1024).toFixed(1)} MiB, ` +
      `Kubernetes ${K8S_VERSION}, all valid) to ${out}${removed}; apply: kubectl apply --server-side -f ${out}\n`,
  );
}
