/** Bad command-line input: the CLI prints the message (no stack) and exits with EXIT_USAGE. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** zod issues as `--flag: message` lines. */
export function formatIssues(
  issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[],
): string {
  return issues
    .map((issue) => {
      const [flag, ...rest] = issue.path.map(String);
      const where = flag === undefined ? '' : `--${flag}${rest.length > 0 ? ` (${rest.join('.')})` : ''}: `;
      return `  ${where}${issue.message}`;
    })
    .join('\n');
}
