/** The benchmark's baseline: a bare Functions Framework handler that answers 202, served in its own process. */
import * as functions from '@google-cloud/functions-framework';

functions.http('bareWebhook', (req, res) => {
  res.status(202).json({ status: 'accepted', bytes: (req.rawBody ?? Buffer.alloc(0)).length });
});
