// Prisma CLI configuration. The service applies ../migrations itself (src/database/migrate.ts);
// with network access, `prisma migrate deploy` applies the same folders and agrees on checksums.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/neglabel' },
});
