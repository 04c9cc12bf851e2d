// Lesson Markdown as React elements, the one way the app shows it (the player and the editor's preview): raw HTML is
// dropped (`skipHtml`, never injected) and react-markdown's default URL transform removes unsafe link and image URLs
// (javascript:, data:…). Imported only by lazily loaded pages, so react-markdown stays out of the initial bundle.
import Markdown from 'react-markdown';

export function LessonMarkdown({ body }: { body: string }) {
  return (
    <div className="prose">
      <Markdown skipHtml>{body}</Markdown>
    </div>
  );
}
