// Splits a kickstart line into words exactly as pykickstart does: Python's
// shlex.split(line, comments=True), i.e. posix mode with whitespace_split and '#' as
// the comment character (Python docs, shlex: "parsing rules"). The npm shlex package's
// split() differs from Python here (no comments, bash $'...' quoting), so the posix
// state machine is written out; shlex.quote() from that package matches Python's and is
// used for printing. Leaves out non-posix mode and punctuation_chars.

export class ShellSplitError extends Error {}

const WHITESPACE = ' \t\r\n';

export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let token = '';
  let inToken = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (WHITESPACE.includes(c)) {
      if (inToken) words.push(token);
      token = '';
      inToken = false;
      i++;
    } else if (c === '#') {
      // A '#' outside quotes starts a comment, even in the middle of a word (shlex posix).
      break;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ShellSplitError('No escaped character');
      token += line[i + 1];
      inToken = true;
      i += 2;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellSplitError('No closing quotation');
      token += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (c === '"') {
      // Inside double quotes a backslash escapes only '"' and '\' (shlex.escapedquotes).
      let j = i + 1;
      let closed = false;
      while (j < line.length) {
        const d = line[j];
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === '\\' && j + 1 < line.length && (line[j + 1] === '"' || line[j + 1] === '\\')) {
          token += line[j + 1];
          j += 2;
          continue;
        }
        token += d;
        j++;
      }
      if (!closed) throw new ShellSplitError('No closing quotation');
      inToken = true;
      i = j + 1;
    } else {
      token += c;
      inToken = true;
      i++;
    }
  }
  if (inToken) words.push(token);
  return words;
}
