/** The provider's name, in one place so that it can change without touching any template. */
export const PROVIDER_NAME = 'MailShield';
export const PRODUCT_NAME = 'Customer Transfer';

export const FONT_STACK =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';

/** Literal colours rather than CSS variables: most email clients ignore custom properties. */
export const COLOURS = {
  brand: '#0b4f8a',
  brandDark: '#083a66',
  ink: '#1b2430',
  muted: '#556070',
  line: '#d9dee5',
  page: '#f2f4f7',
  card: '#ffffff',
  infoBg: '#eef5fc',
  warnBg: '#fff4e5',
  warnLine: '#b54708',
  error: '#b42318',
  errorBg: '#fef3f2',
  focus: '#ffbf47',
  highlight: '#fff3bf',
} as const;
