/**
 * Types for aedes-persistence-level 9 (it ships none). Its main export wraps
 * the LevelDB store in aedes-persistence's CallBackPersistence: every method
 * returns a promise when called without a callback, which is how aedes 1.x
 * calls them. Only what the broker calls itself is typed; aedes takes the
 * object as `persistence` (typed `any` by aedes).
 */
declare module 'aedes-persistence-level' {
  import type { ClassicLevel } from 'classic-level';

  namespace aedesPersistenceLevel {
    interface LevelPersistence {
      setup(broker: unknown): Promise<void>;
      /** Closes the database. */
      destroy(): Promise<void>;
    }
  }
  /** A persistence over `db` (a level database; opened by the caller or on first use). */
  function aedesPersistenceLevel(db: ClassicLevel<string, string>): aedesPersistenceLevel.LevelPersistence;
  export = aedesPersistenceLevel;
}
