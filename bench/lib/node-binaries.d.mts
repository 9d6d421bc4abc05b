export interface NodeBinary {
  version: string
  execPath: string
  source: string
}

export function majorOf(version: string): number
export function parseMajors(value: string): string[]
export function currentNode(): NodeBinary
export function resolveNode(major: string): NodeBinary
