export { extractMainContent, type WebPage } from './main-content';
export { parseRobotsTxt, robotsPolicyWithoutFile, type RobotsPolicy } from './robots';
export { decodeSitemapBody, parseSitemap, type Sitemap, type SitemapBody, type SitemapEntry } from './sitemap';
export { isSameOrigin, matchesUrlPattern, normalizeUrl, passesUrlFilter, type UrlFilter } from './urls';
