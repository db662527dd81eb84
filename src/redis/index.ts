export { startPrivateRedis, freePort, type PrivateRedis, type PrivateRedisOptions } from './private-server.js';
export { bullmqConnection, connectRedis, redisOptions, type ConnectOptions } from './connect.js';
export { validateRedisUrl } from './url.js';
export { checkRedis, type RedisCheck } from './check.js';
export { warmUpBullmq, type BullmqWarmUpOptions } from './warm-up.js';
