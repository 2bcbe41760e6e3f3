import { describe, expect, it } from 'vitest';
import { escapeHtml, singleLine } from '../../../lambdas/presentation/escape.ts';
import { html, trusted } from '../../../lambdas/presentation/html.ts';

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('escapes an ampersand once, so existing entities are shown as typed', () => {
    expect(escapeHtml('&amp;')).toBe('&amp;amp;');
  });

  it('renders null and undefined as nothing and other values as text', () => {
    expect(escapeHtml(null)).toBe('');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(42)).toBe('42');
    expect(escapeHtml(false)).toBe('false');
  });
});

describe('singleLine', () => {
  it('replaces CR, LF, tabs, NUL, DEL, NEL and Unicode line separators by single spaces', () => {
    expect(singleLine('a\r\nBcc: b@x\tc\u0000d\u007fe\u0085f\u2028g\u2029h')).toBe('a Bcc: b@x c d e f g h');
  });

  it('collapses runs of spaces and trims', () => {
    expect(singleLine('  Release   needed \n ')).toBe('Release needed');
  });
});

describe('html template', () => {
  it('escapes interpolated strings and keeps nested templates as markup', () => {
    const name = '<b>"Bob" & co</b>';
    expect(html`<p title="${name}">${html`<em>${name}</em>`}</p>`.toString()).toBe(
      '<p title="&lt;b&gt;&quot;Bob&quot; &amp; co&lt;/b&gt;"><em>&lt;b&gt;&quot;Bob&quot; &amp; co&lt;/b&gt;</em></p>',
    );
  });

  it('renders arrays joined, and false, null and undefined as nothing', () => {
    expect(html`${['<a>', html`<b>`]}${false}${null}${undefined}${0}`.toString()).toBe('&lt;a&gt;<b>0');
  });

  it('inserts trusted constants as they are', () => {
    expect(html`<style>${trusted('a > b { }')}</style>`.toString()).toBe('<style>a > b { }</style>');
  });
});
