// cxray survey pages: a form marked data-autosubmit holds a score chosen in an email (a
// one-click link). A browser that shows the page sends it at once; a mail scanner that only
// fetches the link records nothing. Without this script the person presses Next.
document.addEventListener('DOMContentLoaded', function () {
  var form = document.querySelector('form[data-autosubmit]');
  if (!form) return;
  var next = form.querySelector('button[value=next]');
  if (form.requestSubmit) form.requestSubmit(next); else next.click();
});
