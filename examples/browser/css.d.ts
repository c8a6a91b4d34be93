// esbuild bundles CSS imported from the page's script into main.css.
declare module '*.css';
