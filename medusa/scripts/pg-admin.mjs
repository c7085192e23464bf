// Database housekeeping for `sync-pipeline stack` (uses the `pg` driver from node_modules,
// so the Python side needs no PostgreSQL driver).
//
//   node scripts/pg-admin.mjs <command> [args...]
//
// Connects to the maintenance database given by PG_ADMIN_URL (e.g.
// postgres://user:pass@127.0.0.1:54329/postgres) and prints one JSON line on success.
// Errors go to stderr with exit code 1.
//
// Commands:
//   ping                          server version
//   info <db>...                  {db: {exists, marked, allowConnections}} for each name
//   create <db> [template]        CREATE DATABASE (optionally from a template), then mark it
//   drop <db>                     DROP DATABASE IF EXISTS, terminating its connections
//   reset <db> <template> [spare] replace <db> with a fresh copy of <template>: if the
//                                 ready-made copy <spare> exists, drop <db> and rename
//                                 <spare> to it (milliseconds); else drop + clone (a clone
//                                 of Medusa's ~150 tables costs about a second of file
//                                 creation). Answers {"usedSpare": bool}
//   allow-connections <db> <bool> ALTER DATABASE ... ALLOW_CONNECTIONS
//
// "Marked" databases carry a comment saying the stack created them: the stack only ever
// drops or replaces databases that carry it.
import pg from "pg"

export const MARKER = "created by sync-pipeline stack"

const [command, ...args] = process.argv.slice(2)
const url = process.env.PG_ADMIN_URL
if (!url) {
  console.error("pg-admin: PG_ADMIN_URL is not set")
  process.exit(2)
}

const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
const ident = (name) => client.escapeIdentifier(name)
const literal = (value) => client.escapeLiteral(value)

async function serverVersion() {
  const { rows } = await client.query("SELECT current_setting('server_version_num')::int AS v")
  return rows[0].v
}

async function info(names) {
  const { rows } = await client.query(
    `SELECT datname, datallowconn, shobj_description(oid, 'pg_database') AS comment
       FROM pg_database WHERE datname = ANY($1)`,
    [names]
  )
  const result = {}
  for (const name of names) {
    const row = rows.find((r) => r.datname === name)
    result[name] = row
      ? { exists: true, marked: row.comment === MARKER, allowConnections: row.datallowconn }
      : { exists: false, marked: false, allowConnections: false }
  }
  return result
}

async function drop(name) {
  if ((await serverVersion()) >= 130000) {
    // WITH (FORCE) terminates the connections and drops in one go, so a client that
    // reconnects at once (Medusa's pool does) cannot slip in between.
    await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`)
  } else {
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name]
    )
    await client.query(`DROP DATABASE IF EXISTS ${ident(name)}`)
  }
}

async function create(name, template) {
  const from = template ? ` TEMPLATE ${ident(template)}` : ""
  // The template may still be releasing the connections of a server that just stopped;
  // PostgreSQL waits ~5 s for them, retry a little beyond that.
  for (let attempt = 0; ; attempt++) {
    try {
      await client.query(`CREATE DATABASE ${ident(name)}${from}`)
      break
    } catch (error) {
      if (attempt < 5 && /being accessed by other users/.test(String(error.message))) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        continue
      }
      throw error
    }
  }
  await client.query(`COMMENT ON DATABASE ${ident(name)} IS ${literal(MARKER)}`)
}

async function main() {
  await client.connect()
  try {
    switch (command) {
      case "ping":
        return { version: await serverVersion() }
      case "info":
        return await info(args)
      case "create":
        await create(args[0], args[1])
        return { created: args[0] }
      case "drop":
        await drop(args[0])
        return { dropped: args[0] }
      case "reset": {
        const [name, template, spare] = args
        const state = await info(spare ? [name, template, spare] : [name, template])
        if (!state[template].exists) throw new Error(`template database ${template} does not exist`)
        if (state[name].exists && !state[name].marked) {
          throw new Error(`database ${name} was not created by the stack; refusing to drop it`)
        }
        await drop(name)
        if (spare && state[spare].exists && state[spare].marked) {
          // Nobody connects to the spare, so the rename cannot be blocked.
          await client.query(`ALTER DATABASE ${ident(spare)} RENAME TO ${ident(name)}`)
          return { reset: name, template, usedSpare: true }
        }
        await create(name, template)
        return { reset: name, template, usedSpare: false }
      }
      case "allow-connections":
        await client.query(
          `ALTER DATABASE ${ident(args[0])} WITH ALLOW_CONNECTIONS ${args[1] === "true" ? "true" : "false"}`
        )
        return { database: args[0], allowConnections: args[1] === "true" }
      default:
        throw new Error(`unknown command: ${command}`)
    }
  } finally {
    await client.end()
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  },
  (error) => {
    process.stderr.write(`pg-admin ${command}: ${error.message}\n`)
    process.exit(1)
  }
)
