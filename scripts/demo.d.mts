// Types of scripts/demo.mjs, for test/browser/demo.test.ts.
import type { Server } from 'node:http';

export declare const DEMO_DIR: string;
export interface BuiltDemo {
  /** 'main.js', 'main.css': the page's bundle. */
  files: Record<string, string>;
  /** Node built-ins stubbed in the bundle, each with the files that import it. */
  stubbed: Record<string, string[]>;
}
export declare function buildDemo(options?: { minify?: boolean }): Promise<BuiltDemo>;
export declare function serveDemo(options?: { port?: number; host?: string; mounts?: Record<string, string>; built?: BuiltDemo }): Promise<Server>;
