import { defineConfig } from "vite";

// Content-hashed file names under assets/ (Vite's default), which shipit serves immutable;
// everything in public/ keeps its name and gets a short cache.
export default defineConfig({
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // Keep the image and the font as files (not inlined) so the site has real hashed assets
    // of each kind.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
