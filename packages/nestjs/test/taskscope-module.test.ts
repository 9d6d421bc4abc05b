// TaskscopeModule on real Nest apps, on both platforms, over real sockets: what controllers and
// services see, injection by class without emitted metadata, disconnects, failures, shutdown.
import {
  BadGatewayException,
  Body,
  type CallHandler,
  Controller,
  type ExecutionContext,
  ForbiddenException,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  type NestInterceptor,
  Param,
  Post,
  Req,
  UseInterceptors,
} from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { BackgroundTasks, ClientDisconnectedError, currentTaskGroup, ShutdownError, TaskGroup, Threadpool } from '@taskscope/core'
import { TaskscopeModule, type TaskscopeModuleOptions, type TaskscopeRequest, TaskscopeRuntime } from '@taskscope/nestjs'
import { cleanup, type Deferred, deferred, flush, httpRequest, rawConnect, rawHttpRequest, untilAborted } from '@taskscope/test-support'
import { from, fromEvent, Observable, takeUntil } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, listen, type Platform, platforms, recordingLogger } from './nest-apps.ts'

/** What the routes report to the test. */
class Probes {
  taskSaw: Deferred<unknown> = deferred()
  handlerEntered: Deferred<void> = deferred()
  release: Deferred<void> = deferred()
  tornDown: Deferred<void> = deferred()
}

/** A service: injection by explicit token only (this file emits no decorator metadata). */
@Injectable()
class UsersService {
  constructor(
    @Inject(BackgroundTasks) readonly background: BackgroundTasks,
    @Inject(Threadpool) readonly pool: Threadpool,
    @Inject(TaskscopeRuntime) readonly taskscope: TaskscopeRuntime,
  ) {}

  find(id: string) {
    return currentTaskGroup()!.createTask(async () => ({ id }), { name: 'user' })
  }
}

/** The interceptor of nestjs/nest#10853: completes the stream when the request closes. */
@Injectable()
class UntilClose implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<{ raw?: object }>()
    return next.handle().pipe(takeUntil(fromEvent((req.raw ?? req) as never, 'close')))
  }
}

@Controller()
class TestController {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(Probes) private readonly probes: Probes,
  ) {}

  @Get('users/:id') async user(@Param('id') id: string, @Req() req: TaskscopeRequest) {
    const user = this.users.find(id)
    const group = req.taskGroup
    return { user: await user, sameGroup: currentTaskGroup() === group, isGroup: group instanceof TaskGroup }
  }

  @Post('deep') async deep(@Body() body: { big: string }, @Req() req: TaskscopeRequest) {
    const inService = await this.users.find('deep')
    return { size: body.big.length, same: currentTaskGroup() === req.taskGroup, inService }
  }

  @Get('wait') async wait(@Req() req: TaskscopeRequest) {
    const task = req.taskGroup.createTask((signal) => untilAborted(signal, this.probes.taskSaw))
    this.probes.handlerEntered.resolve()
    return await task
  }

  @Get('observable') observable(@Req() req: TaskscopeRequest) {
    const task = req.taskGroup.createTask((signal) => untilAborted(signal, this.probes.taskSaw))
    this.probes.handlerEntered.resolve()
    return from(task)
  }

  @Get('empty') @UseInterceptors(UntilClose) empty() {
    return new Observable<string>(() => {
      this.probes.handlerEntered.resolve()
      return () => this.probes.tornDown.resolve()
    })
  }

  @Get('forbidden') async forbidden(@Req() req: TaskscopeRequest) {
    return await req.taskGroup.createTask(async () => {
      throw new ForbiddenException('not yours')
    })
  }

  // A sibling fails while the first task still runs: the escaped cancellation is the sibling's failure.
  @Get('sibling/:kind') async sibling(@Param('kind') kind: string, @Req() req: TaskscopeRequest) {
    const slow = req.taskGroup.createTask((signal) => untilAborted(signal))
    const failing = req.taskGroup.createTask(async () => {
      await Promise.resolve()
      throw kind === 'http' ? new BadGatewayException('feed service is down') : new Error('feed service is down')
    })
    return { slow: await slow, failing: await failing }
  }

  @Get('closed') async closed(@Req() req: TaskscopeRequest) {
    const group = new TaskGroup()
    group.createTask(async () => {
      throw new ForbiddenException('not yours either')
    })
    await group.close()
    return { never: true }
  }

  @Get('boom') async boom(@Req() req: TaskscopeRequest) {
    return await req.taskGroup.createTask(async () => {
      throw new Error('boom')
    })
  }

  @Get('deadline') async deadline(@Req() req: TaskscopeRequest) {
    const child = req.taskGroup.child({ timeout: 10 })
    return await child.createTask((signal) => untilAborted(signal))
  }

  @Get('slow') async slow() {
    this.probes.handlerEntered.resolve()
    await this.probes.release.promise
    return 'done'
  }
}

function appModule(options: TaskscopeModuleOptions = {}, probes = new Probes()) {
  @Module({
    imports: [TaskscopeModule.forRoot(options)],
    controllers: [TestController],
    providers: [UsersService, { provide: Probes, useValue: probes }],
  })
  class AppModule {}
  return AppModule
}

const apps: INestApplication[] = []
afterEach(async () => {
  await cleanup()
  for (const app of apps.splice(0)) await app.close()
})

async function start(platform: Platform, options?: TaskscopeModuleOptions) {
  const probes = new Probes()
  const log = recordingLogger()
  const app = await createApp(platform, appModule({ threadpool: { maxThreads: 1 }, ...options }, probes), log.logger)
  apps.push(app)
  const port = await listen(app)
  return { app, port, probes, log }
}

/** Sends GET `path` on a raw socket, waits until the handler runs, then goes away. */
async function disconnectDuring(port: number, path: string, probes: Probes): Promise<void> {
  const client = await rawConnect(port)
  client.write(rawHttpRequest({ path }))
  await probes.handlerEntered.promise
  client.destroy()
}

describe.each(platforms)('TaskscopeModule on %s', (platform) => {
  it('gives controllers req.taskGroup and services currentTaskGroup(), the same group', async () => {
    const { port } = await start(platform)
    const { status, json } = await httpRequest(port, { path: '/users/7' }).response
    expect(status).toBe(200)
    expect(json()).toEqual({ user: { id: '7' }, sameGroup: true, isGroup: true })
  })

  it("is the request's group in a POST handler too, after the body was read", async () => {
    const { port } = await start(platform)
    const { status, json } = await httpRequest(port, { method: 'POST', path: '/deep', body: { big: 'x'.repeat(100_000) } }).response
    expect(status).toBe(201)
    expect(json()).toEqual({ size: 100_000, same: true, inService: { id: 'deep' } })
  })

  it('injects the runtime, its background tasks and a pool that starts on first use, by class', async () => {
    const { app } = await start(platform)
    const users = app.get(UsersService)
    const taskscope = app.get(TaskscopeRuntime)
    expect(users.taskscope).toBe(taskscope)
    expect(users.background).toBe(taskscope.backgroundTasks)
    expect(users.background).toBeInstanceOf(BackgroundTasks)
    expect(users.pool).toBeInstanceOf(Threadpool)
    expect(taskscope.stats().pool.threads).toBe(0) // injected, not started
    expect(await users.pool.run((a: number, b: number) => a + b, [2, 3])).toBe(5)
    expect(taskscope.stats().pool.threads).toBeGreaterThan(0)
    expect(taskscope.inspect()).toEqual({ requests: [], background: [], backgroundStore: 'available' })
  })

  it('cancels what the handler awaits when the client goes away: no error logged, no 500', async () => {
    const { port, probes, log } = await start(platform)
    const quiet = log.next((line) => /request cancelled/.test(line.message))
    await disconnectDuring(port, '/wait', probes)
    expect(await probes.taskSaw.promise).toBeInstanceOf(ClientDisconnectedError)
    expect((await quiet).level).toBe('debug')
    expect(log.errors()).toEqual([])
  })

  it('an Observable-returning handler: the task it waits for is cancelled, nothing answers 500', async () => {
    const { port, probes, log } = await start(platform)
    const disconnect = log.next((line) => /client went away/.test(line.message))
    await disconnectDuring(port, '/observable', probes)
    expect(await probes.taskSaw.promise).toBeInstanceOf(ClientDisconnectedError)
    expect((await disconnect).context).toBe('Taskscope')
    await flush(5)
    expect(log.errors()).toEqual([])
  })

  it('the takeUntil(close) interceptor of nestjs/nest#10853 ends in no EmptyError logged', async () => {
    const { port, probes, log } = await start(platform)
    await disconnectDuring(port, '/empty', probes)
    await probes.tornDown.promise
    await flush(5)
    expect(log.errors()).toEqual([])
  })

  it("a task's HttpException keeps its status; a plain Error is Nest's 500, logged by Nest", async () => {
    const { port, log } = await start(platform)
    const forbidden = await httpRequest(port, { path: '/forbidden' }).response
    expect(forbidden.status).toBe(403)
    expect(forbidden.json()).toMatchObject({ statusCode: 403, message: 'not yours' })
    expect(log.errors()).toEqual([])
    const boom = await httpRequest(port, { path: '/boom' }).response
    expect(boom.status).toBe(500)
    expect(boom.json()).toEqual({ statusCode: 500, message: 'Internal server error' })
    expect(log.errors().map((line) => line.message)).toEqual([expect.stringContaining('boom')])
  })

  it("a sibling's failure answers as that failure, never 499: its HttpException status, or Nest's 500 logged once", async () => {
    const { port, log } = await start(platform)
    const gateway = await httpRequest(port, { path: '/sibling/http' }).response
    expect(gateway.status).toBe(502)
    expect(gateway.json()).toMatchObject({ statusCode: 502, message: 'feed service is down' })
    const closed = await httpRequest(port, { path: '/closed' }).response
    expect(closed.status).toBe(403)
    expect(log.errors()).toEqual([])
    const plain = await httpRequest(port, { path: '/sibling/plain' }).response
    expect(plain.status).toBe(500)
    await flush(5)
    expect(log.errors().map((line) => line.message)).toEqual([expect.stringContaining('feed service is down')])
  })

  it('a group timeout that escapes the handler answers 504, not 500', async () => {
    const { port, log } = await start(platform)
    const { status } = await httpRequest(port, { path: '/deadline' }).response
    expect(status).toBe(504)
    expect(log.errors()).toEqual([])
  })

  it("app.close() runs the bounded shutdown in Nest's lifecycle, the summary through Nest's Logger; a second close is harmless", async () => {
    const { app, port, probes, log } = await start(platform)
    const drained = deferred<void>()
    app.get(BackgroundTasks).add(async () => {
      await probes.release.promise
      drained.resolve()
    })
    const inFlight = httpRequest(port, { path: '/slow' })
    await probes.handlerEntered.promise
    const summary = log.next((line) => /shut down cleanly/.test(line.message))
    const closing = app.close()
    await new Promise((resolve) => setImmediate(resolve))
    expect(app.get(TaskscopeRuntime).draining).toBe(true)
    expect(() => app.get(BackgroundTasks).add(async () => {})).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }))
    probes.release.resolve()
    const response = await inFlight.response
    expect(response.status).toBe(200)
    expect(response.body).toBe('done')
    await closing
    await drained.promise
    expect((await summary).context).toBe('Taskscope')
    await app.close()
    apps.splice(apps.indexOf(app), 1)
    expect(log.errors()).toEqual([])
  })

  it('a request still running at the shutdown deadline is cancelled with ShutdownError and answers 503', async () => {
    const { app, port, probes, log } = await start(platform, { shutdownTimeout: 50 })
    const inFlight = httpRequest(port, { path: '/wait' })
    await probes.handlerEntered.promise
    apps.splice(apps.indexOf(app), 1)
    const closing = app.close()
    const response = await inFlight.response
    expect(response.status).toBe(503)
    expect(await probes.taskSaw.promise).toBeInstanceOf(ShutdownError)
    await closing
    expect(log.errors()).toEqual([])
  })

  it('background tasks still running at the deadline are cancelled with ShutdownError, said at warn', async () => {
    const { app, log } = await start(platform, { shutdownTimeout: 20 })
    const seen = deferred<unknown>()
    app.get(BackgroundTasks).add((signal) => untilAborted(signal, seen), { name: 'stuck' })
    const summary = log.next((line) => line.level === 'warn' && /stuck/.test(line.message))
    apps.splice(apps.indexOf(app), 1)
    await app.close()
    expect(await seen.promise).toBeInstanceOf(ShutdownError)
    expect((await summary).context).toBe('Taskscope')
  })
})

describe('TaskscopeModule', () => {
  it('forRootAsync takes its options from a factory with injected providers', async () => {
    const config = { provide: 'CONFIG', useValue: { shutdownTimeout: 1234 } }
    @Module({ providers: [config], exports: [config] })
    class ConfigModule {}
    @Module({
      imports: [
        TaskscopeModule.forRootAsync({
          imports: [ConfigModule],
          inject: ['CONFIG'],
          useFactory: async (settings: { shutdownTimeout: number }) => ({ shutdownTimeout: settings.shutdownTimeout }),
        }),
      ],
    })
    class AppModule {}
    for (const platform of platforms) {
      const app = await createApp(platform, AppModule, recordingLogger().logger)
      apps.push(app)
      await app.init()
      expect(app.get(TaskscopeRuntime).runtime.shutdownTimeout).toBe(1234)
    }
  })

  it('a registry of its own class is injectable by that class and as BackgroundTasks', async () => {
    class AuditedTasks extends BackgroundTasks {}
    const registry = new AuditedTasks()
    @Module({ imports: [TaskscopeModule.forRoot({ backgroundTasks: registry })] })
    class AppModule {}
    const app = await createApp('express', AppModule, recordingLogger().logger)
    apps.push(app)
    expect(app.get(AuditedTasks)).toBe(registry)
    expect(app.get(BackgroundTasks)).toBe(registry)
  })

  it('rejects options that are not an object, naming them', () => {
    expect(() => TaskscopeModule.forRoot('fast' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('forRoot()') }),
    )
    expect(() => TaskscopeModule.forRootAsync({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"useFactory"') }),
    )
  })

  it('invalid adapter options fail the app creation with the TypeError naming the option', async () => {
    @Module({ imports: [TaskscopeModule.forRoot({ shutdownTimeout: 'soon' as never })] })
    class AppModule {}
    await expect(createApp('express', AppModule, recordingLogger().logger)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
      message: expect.stringContaining('shutdownTimeout'),
    })
  })

  it('an application context without HTTP fails with ERR_TASKSCOPE_UNSUPPORTED_PLATFORM', async () => {
    @Module({ imports: [TaskscopeModule.forRoot()] })
    class AppModule {}
    await expect(NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false })).rejects.toMatchObject({
      code: 'ERR_TASKSCOPE_UNSUPPORTED_PLATFORM',
    })
  })
})
