/**
 * NestJS, on Express or Fastify: the dashboard (three upstream calls in parallel in the request's
 * task group, all aborted when the client disconnects), a report made in the background (drained
 * on shutdown), and the runtime's stats — with `TaskscopeModule.forRoot()` and nothing else.
 *
 * Nest apps are TypeScript with decorators: run it with tsx (the repository's tsconfig.json sets
 * `experimentalDecorators`; no decorator metadata needed, every injection names its token).
 *
 *   npx tsx examples/nestjs/app.ts            # PLATFORM=fastify for Fastify
 *   curl http://localhost:3000/dashboard/1
 */
import 'reflect-metadata'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import {
  BadGatewayException,
  Controller,
  Get,
  HttpCode,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
  Req,
} from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { BackgroundTasks, currentTaskGroup } from '@taskscope/core'
import { TaskscopeModule, type TaskscopeRequest, TaskscopeRuntime } from '@taskscope/nestjs'
// @ts-expect-error plain JavaScript, without declarations
import { startUpstream } from '../dashboard/upstream.mjs'

const UPSTREAM_URL = Symbol('UPSTREAM_URL')

/** The upstream services: plain calls that take a signal, and one that makes its own task. */
@Injectable()
export class UpstreamService {
  constructor(@Inject(UPSTREAM_URL) private readonly baseUrl: string) {}

  async get(path: string, signal: AbortSignal): Promise<unknown> {
    const response = await fetch(`${this.baseUrl}${path}`, { signal }) // aborted with the request
    // A task's failure reaches Nest's exception filters as itself: a 404 stays a 404.
    if (response.status === 404) throw new NotFoundException(`no such user: ${path}`)
    if (!response.ok) throw new BadGatewayException(`upstream answered ${response.status}`)
    return response.json()
  }

  /** A service needs no request object: `currentTaskGroup()` is the request's group. */
  stats(userPath: string) {
    return currentTaskGroup()!.createTask((signal) => this.get(`${userPath}/stats`, signal), { name: 'stats' })
  }
}

@Controller()
export class DashboardController {
  constructor(
    @Inject(UpstreamService) private readonly upstream: UpstreamService,
    @Inject(BackgroundTasks) private readonly background: BackgroundTasks,
    @Inject(TaskscopeRuntime) private readonly taskscope: TaskscopeRuntime,
  ) {}

  /** Three calls at once; the first failure cancels the others; a disconnect cancels all three. */
  @Get('dashboard/:id') async dashboard(@Param('id') id: string, @Req() req: TaskscopeRequest) {
    const base = `/users/${encodeURIComponent(id)}`
    const user = req.taskGroup.createTask((signal) => this.upstream.get(base, signal), { name: 'user' })
    const posts = req.taskGroup.createTask((signal) => this.upstream.get(`${base}/posts`, signal), { name: 'posts' })
    const stats = this.upstream.stats(base)
    return { user: await user, posts: await posts, stats: await stats }
  }

  /** Answers at once; the report is made in the background, and finished (or cancelled) on shutdown. */
  @Post('reports') @HttpCode(202) report() {
    const task = this.background.add(
      async (signal) => {
        await sleep(200, undefined, { signal }) // a ShutdownError past the shutdown deadline
        return 'report ready'
      },
      { name: 'report' },
    )
    return { report: task.id }
  }

  @Get('debug/stats') stats() {
    return this.taskscope.stats()
  }
}

/** Builds the Nest app on `platform`, talking to the upstream at `upstreamUrl` (not listening yet). */
export async function build({
  platform = 'express',
  upstreamUrl,
  logger,
}: {
  platform?: 'express' | 'fastify'
  upstreamUrl: string
  logger?: false
}) {
  @Module({
    imports: [TaskscopeModule.forRoot({ shutdownTimeout: 5_000 })],
    controllers: [DashboardController],
    providers: [UpstreamService, { provide: UPSTREAM_URL, useValue: upstreamUrl }],
  })
  class AppModule {}
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter()
  return NestFactory.create(AppModule, adapter, logger === false ? { logger: false } : {})
}

/** Listens; without `upstreamUrl`, starts a local upstream too. Resolves with `{ app, url, close }`. */
export async function start(
  options: { platform?: 'express' | 'fastify'; port?: number; host?: string; upstreamUrl?: string; logger?: false } = {},
) {
  const { port = 3000, host = '127.0.0.1' } = options
  const upstream = options.upstreamUrl === undefined ? await startUpstream() : undefined
  const app: INestApplication = await build({ ...options, upstreamUrl: options.upstreamUrl ?? upstream.url })
  app.enableShutdownHooks() // SIGTERM/SIGINT: app.close(), which drains requests and background tasks
  await app.listen(port, host)
  const close = async () => {
    await app.close()
    await upstream?.close()
  }
  return { app, url: `http://${host}:${app.getHttpServer().address().port}`, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const platform = process.env.PLATFORM === 'fastify' ? 'fastify' : 'express'
  const { url } = await start({ platform, port: Number(process.env.PORT ?? 3000) })
  console.log(`Dashboard (NestJS on ${platform}) listening on ${url}
  curl ${url}/dashboard/1            # user, posts and stats fetched in parallel
  curl ${url}/dashboard/42           # 404 from the upstream: the first failure cancels the other calls
  curl -X POST ${url}/reports        # 202 at once; the report is made in the background
  curl ${url}/debug/stats            # the runtime's stats`)
}
