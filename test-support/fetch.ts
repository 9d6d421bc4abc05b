// fetch() with the body already read: JSON when the response says so, text otherwise.

export interface FetchedResponse {
  status: number
  headers: Headers
  body: any
}

/** `fetch(url, init)`, with the body parsed (JSON) or read as text. */
export async function request(url: string, init?: RequestInit): Promise<FetchedResponse> {
  const response = await fetch(url, init)
  const type = response.headers.get('content-type') ?? ''
  const body = type.includes('json') ? await response.json() : await response.text()
  return { status: response.status, headers: response.headers, body }
}

/** A JSON POST with `request()`. */
export function post(url: string, body: unknown): Promise<FetchedResponse> {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}
