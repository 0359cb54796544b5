import { timingSafeEqual, createHash } from 'node:crypto';
import type { Express, Request } from 'express';
import type { ActivationService } from './activation-service.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of `Authorization: Bearer <ADMIN_TOKEN>`. */
export function isAdmin(req: Request, adminToken: string | undefined): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!adminToken || !m) return false;
  return timingSafeEqual(digest(m[1]!.trim()), digest(adminToken));
}

export function mountAdminRoutes(app: Express, deps: { activation: ActivationService; adminToken: string | undefined }): void {
  app.get('/admin/rate-limit', async (req, res) => {
    if (!isAdmin(req, deps.adminToken)) {
      res.setHeader('www-authenticate', 'Bearer realm="dotm-admin"');
      res.status(401).json({
        error: 'unauthorized',
        message: deps.adminToken ? 'Send Authorization: Bearer <ADMIN_TOKEN>.' : 'ADMIN_TOKEN is not configured on this server.',
      });
      return;
    }
    res.json(await deps.activation.stats());
  });
}
