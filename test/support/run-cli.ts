/**
 * Runs the CLI in this process and, when SFT_MAX_RSS_FILE is set, writes the process's peak
 * resident memory (bytes) there on exit: tests use it to show memory stays bounded.
 */
import { writeFileSync } from 'node:fs';
import { main } from '../../cli/main.ts';

const status = await main(process.argv.slice(2));
if (process.env.SFT_MAX_RSS_FILE) writeFileSync(process.env.SFT_MAX_RSS_FILE, String(process.resourceUsage().maxRSS * 1024));
process.exitCode = status;
