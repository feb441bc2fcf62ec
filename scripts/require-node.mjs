// Fails fast, with the fix, when a script runs on a Node.js older than the project needs.
// npm puts node_modules/.bin first on PATH, so after `npm ci` every npm script runs on the
// Node 22 that the `node` devDependency installs, whatever the machine ships.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `gemini-sft-pipeline needs Node.js 22.18 or newer (found ${process.version}). ` +
      'Run it through npm (`npm test`, `npm start`), which uses the Node 22 that `npm ci` installs, ' +
      'or install Node 22 yourself (`npx -y node@22`).',
  );
  process.exit(1);
}
