// Build of the pic web UI: React + TypeScript into PIC_WEB_OUT (the build dir's web/, served by picd), with a
// deterministic .gz beside every text asset so picd can send it precompressed; vitest runs the unit tests.
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { gzipSync } from "node:zlib";
import { readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const outDir = process.env.PIC_WEB_OUT ? resolve(process.env.PIC_WEB_OUT) : fileURLToPath(new URL("./dist", import.meta.url));

// gzip -9 with no name and mtime 0 in the header, so the same sources give the same bytes.
function precompress(): Plugin {
  return {
    name: "pic-precompress",
    apply: "build",
    closeBundle() {
      const walk = (dir: string) => {
        for (const name of readdirSync(dir)) {
          const p = join(dir, name);
          if (statSync(p).isDirectory()) walk(p);
          else if (/\.(js|css|html|svg|json|txt)$/.test(name))
            writeFileSync(p + ".gz", gzipSync(readFileSync(p), { level: 9 }));
        }
      };
      walk(outDir);
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    // The polyfill would be inline script, which the Content-Security-Policy forbids.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.tsx", "src/**/*.test.ts"],
  },
});
