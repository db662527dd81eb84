export { startPrivateRedis, freePort, type PrivateRedis, type PrivateRedisOptions } from './private-server.js';
export { bullmqConnection, connectRedis, redisOptions, validateRedisUrl, type ConnectOptions } from './connect.js';
export { checkRedis, type RedisCheck } from './check.js';
export { warmUpBullmq } from './warm-up.js';
