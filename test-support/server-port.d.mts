/** A free TCP port on 127.0.0.1 below the ephemeral range (checked free, then released). */
export function serverPort(): Promise<number>
