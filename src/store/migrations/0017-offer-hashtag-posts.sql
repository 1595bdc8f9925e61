-- The funnel's first step, hashtag posts, counted by the engine as it decides each post and written
-- with the offer (src/engine/decide.ts, onPost). The web read it by scanning the log after the last
-- count, at most 20,000 rows a read, from zero again after every restart: on a long log the funnel
-- showed a fraction of the posts for as many dashboard loads as it took to catch up. Offers created
-- before this migration count the posts from now on.
ALTER TABLE offers ADD COLUMN hashtag_posts bigint NOT NULL DEFAULT 0 CHECK (hashtag_posts >= 0);
