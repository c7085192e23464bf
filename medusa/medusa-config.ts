// Minimal Medusa v2 backend for the sync pipeline's local stack.
//
// Every secret comes from the environment (sync-pipeline `stack up` passes them to each
// child process; it also writes a git-ignored .env for running `medusa` by hand).
// There are deliberately no defaults: a missing secret must fail loudly, not boot a
// server with a well-known JWT secret.
import { defineConfig, loadEnv } from "@medusajs/framework/utils"

loadEnv(process.env.NODE_ENV || "development", process.cwd())

function required(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(
      `${name} is not set. Run \`sync-pipeline stack up\`, or export ${name} before calling medusa.`
    )
  }
  return value
}

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: required("DATABASE_URL"),
    http: {
      // Only server-to-server calls hit this backend; CORS origins are irrelevant to them.
      storeCors: process.env.STORE_CORS || "http://localhost:8000",
      adminCors: process.env.ADMIN_CORS || "http://localhost:5173",
      authCors: process.env.AUTH_CORS || "http://localhost:5173",
      jwtSecret: required("JWT_SECRET"),
      cookieSecret: required("COOKIE_SECRET"),
    },
  },
  admin: {
    disable: true,
  },
})
