/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export function createProgressBar(totalBytes: number, stream: NodeJS.WriteStream = process.stderr) {
  if (!stream.isTTY || totalBytes < 8 * 1024 * 1024) return { update: (_bytes: number, _records: number) => {}, done: () => {} };
  let lastDraw = 0;
  const draw = (bytes: number, records: number) => {
    const fraction = Math.min(1, bytes / totalBytes);
    const width = 30;
    const filled = Math.round(fraction * width);
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${records} records`);
  };
  return {
    update(bytes: number, records: number) {
      const now = Date.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      draw(bytes, records);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
